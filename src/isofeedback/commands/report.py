"""``isofeedback report FILE``: a session report for the clinician (HTML) and for systems
(JSON), from the recorded live outputs, or by replaying when there are none."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from isofeedback.coach.calibration_store import PatientStore, default_data_dir
from isofeedback.coach.clinician import clinician_html, clinician_report
from isofeedback.coach.prescription import load_prescription, parse_prescription
from isofeedback.coach.protocol import find_protocol
from isofeedback.commands.common import add_data_dir, counted, patient_id, sample_rate
from isofeedback.errors import ConfigError, RecordingError
from isofeedback.files import open_private
from isofeedback.recording.reader import RecordingReader
from isofeedback.recording.report import build_report, report_html, reps_text
from isofeedback.research.replay import is_foreign, replay

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write a session report (HTML page with a picture, and JSON)",
        description="Summarise a session for a clinician: reps, hold times, intensity, "
        "violations, relaxation and range of motion per rep, and a picture of intensity and "
        "joint angle over time with events and phases.",
    )
    p.add_argument("file", type=Path, nargs="?",
                   help="a recording (.isorec), or CSV/EDF/BDF data (or --patient)")
    p.add_argument("--patient", type=patient_id,
                   help="instead of one session: the clinician's report across the patient's "
                   "stored sessions (ROM per technique and muscle, hold quality, pain, "
                   "adherence, flagged sessions)")
    add_data_dir(p, f"folder of the patient store, with --patient (default: "
                    f"{default_data_dir()})")
    p.add_argument("--prescription", type=Path,
                   help="the patient's prescription (TOML), for adherence, with --patient "
                   "(default: the one received over MQTT and stored)")
    p.add_argument("--pdf", action="store_true",
                   help="also print the HTML page to BASE.pdf and BASE.png with headless "
                   "Chromium")
    p.add_argument("--out", type=Path, metavar="BASE",
                   help="write BASE.html and BASE.json (default: next to FILE)")
    p.add_argument("--replay", action="store_true",
                   help="replay instead of using the recorded live outputs")
    p.add_argument("--fs", type=sample_rate, help="sample rate of a CSV file without a time column")
    p.add_argument("--protocol", default="pir",
                   help="the protocol foreign data is coached with, for its reps, holds and "
                   "violations (default pir; replay analyses foreign data without one)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.patient:
        return _patient_report(args)
    if args.file is None:
        raise ConfigError("give a recording FILE, or --patient for the cross-session report")
    path: Path = args.file
    if is_foreign(path):
        protocol = find_protocol(args.protocol)
        result = replay(path, fs=args.fs, protocol=protocol)
        outputs, meta = result.outputs, {**result.meta, "session": result.session,
                                         "protocol_name": protocol.name}
        # foreign data has no session of its own: say which protocol's reps these are
        print(f"{path.name}: coached with the {protocol.name!r} protocol "
              "(--protocol to choose another)")
    else:
        with RecordingReader(path) as reader:
            meta = dict(reader.meta)
            outputs = [] if args.replay else reader.outputs()
            meta["protocol_name"] = reader.protocol().name
        if not any(getattr(o, "kind", "") == "level" for o in outputs):
            outputs = replay(path).outputs
    report = build_report(outputs, meta)
    base = args.out or path.with_suffix("")
    try:
        with open_private(base.with_suffix(".json")) as f:
            f.write(json.dumps(report, indent=1))
        with open_private(base.with_suffix(".html")) as f:
            f.write(report_html(report))
    except OSError as exc:
        raise RecordingError(f"cannot write the report next to {base}: {exc}") from None
    hold = (f", mean hold {report['mean_hold_s']} s"
            if report["reps_done"] and report["mean_hold_s"] is not None else "")
    cut = f"; ended early: {report['stop_reason']}" if report["stop_reason"] else ""
    print(f"{reps_text(report)} reps{hold}, violations: "
          f"{', '.join(report['violations']) or 'none'}{cut}")
    for note in report["signal"]:
        print(f"signal: {note}")
    print(f"report: {base.with_suffix('.html')} (and .json)")
    if args.pdf:
        print_pdf(base.with_suffix(".html"))
    return 0


def _patient_report(args: argparse.Namespace) -> int:
    folder = Path(args.data_dir) if args.data_dir else default_data_dir()
    sessions = PatientStore(folder, args.patient).sessions()
    if not sessions:
        raise ConfigError(f"no sessions stored for patient {args.patient!r} in {folder} "
                          "(run a session with --data-dir first, or check the folder)")
    rx = load_prescription(args.prescription) if args.prescription else None
    if rx is not None and rx.patient != args.patient:  # as over MQTT (prescription_message)
        raise ConfigError(f"{args.prescription}: prescription.patient is {rx.patient!r}, not "
                          f"{args.patient!r}: adherence would be measured against another "
                          "patient's prescription")
    if rx is None:  # else the one the clinician sent over MQTT, as the gateway stored it
        doc = PatientStore(folder, args.patient).prescription_doc()
        rx = parse_prescription(doc, f"{folder / args.patient}.json: prescription"
                                ) if doc else None
    report = clinician_report(args.patient, sessions, rx)
    base = args.out or folder / f"{args.patient}-report"
    try:
        with open_private(base.with_suffix(".json")) as f:  # patient data: owner only
            f.write(json.dumps(report, indent=1, default=str))
        with open_private(base.with_suffix(".html")) as f:
            f.write(clinician_html(report))
    except OSError as exc:
        raise RecordingError(f"cannot write the report to {base}: {exc}") from None
    print(f"{counted(report['sessions'], 'session')}, {len(report['flagged'])} flagged; "
          f"report: {base.with_suffix('.html')} (and .json)")
    if args.pdf:
        print_pdf(base.with_suffix(".html"))
    return 0


def print_pdf(page: Path, timeout_s: float = 60.0) -> tuple[Path, Path]:
    """``page`` printed to PDF and a PNG picture with headless Chromium (next to it)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise ConfigError("--pdf needs Chromium (apt-get install chromium)")
    pdf, png = page.with_suffix(".pdf"), page.with_suffix(".png")
    url = page.resolve().as_uri()
    common = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer"]
    for extra in ([f"--print-to-pdf={pdf}"], [f"--screenshot={png}", "--window-size=800,1500"]):
        try:
            done = subprocess.run([*common, *extra, url], capture_output=True, text=True,
                                  timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise RecordingError(f"Chromium did not finish printing {page} in {timeout_s:g} s"
                                 ) from None
        if done.returncode != 0:
            raise RecordingError(f"Chromium could not print {page}: "
                                 f"{done.stderr.strip().splitlines()[-1:]}")
    for made in (pdf, png):
        made.chmod(0o600)  # patient data: owner only, like the HTML
    print(f"printed: {pdf} and {png}")
    return pdf, png
