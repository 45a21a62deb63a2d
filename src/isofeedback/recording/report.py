"""A session report a clinician can read: JSON for systems, one HTML page for people.

Built from a session's outputs (the recorded live ones, or a replay's): the coach's rep
results (hold time, intensity, violations, relaxation residual, range of motion) and the
live level stream (the intensity the patient saw and the joint angle, 20 per second) for
the picture. The page is self-contained HTML with inline SVG: it opens in any browser,
prints, can be mailed, and needs no plotting library on the gateway.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from isofeedback.coach.phases import Phase
from isofeedback.detectors.signal_quality import hz_text, notched_hum_note
from isofeedback.types import Event, EventType, Feedback

__all__ = ["band_text", "build_report", "known", "report_html", "reps_text"]

_PHASE_COLORS: dict[str, str] = {Phase.HOLDING: "#d9f2d9", Phase.CONTRACTING: "#eef7e6",
                 Phase.RELEASING: "#fdf1d8", Phase.RELAXING: "#dde9f7",
                 Phase.STRETCHING: "#efe3f6", Phase.CALIBRATING: "#eeeeee", Phase.MVC: "#f7dddd"}
_EVENT_COLORS = {"onset": "#2a8a2a", "release": "#1f5fbf", "movement": "#c0392b",
                 "gap": "#7f7f7f"}


def build_report(outputs: Sequence[Event | Feedback], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The report as plain data (what ``report --json`` writes)."""
    summary: dict[str, Any] = {}
    reps: list[dict[str, Any]] = []
    levels: list[list[Any]] = []
    phases: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    cues: list[dict[str, Any]] = []
    unit = ""
    band: list[float] = []
    signal: list[str] = []
    for o in outputs:
        if isinstance(o, Event):
            events.append({"type": o.type.value, "t": round(o.t, 3),
                           "t_decided": round(o.t_decided, 3)})
            said = signal_text(o)
            if said is not None and said not in signal:
                signal.append(said)
        elif o.kind == "level":
            p = o.payload
            levels.append([round(o.t, 3), float(p.get("intensity", 0.0)),
                           float(p.get("angle_deg", 0.0)), str(p.get("unit", ""))])
            unit = str(p.get("unit", unit))
            band = list(p.get("band", band))
        elif o.kind == "phase":
            phases.append({"t": round(o.t, 3), "phase": o.payload.get("phase"),
                           "rep": o.payload.get("rep")})
        elif o.kind == "rep":
            reps.append(dict(o.payload))
        elif o.kind == "cue":
            cues.append({"t": round(o.t, 3), "id": o.payload.get("id"),
                         "severity": o.payload.get("severity")})
        elif o.kind == "summary":
            summary = dict(o.payload)
    if summary.get("reps"):
        reps = list(summary["reps"])
    # no summary (a session killed, a file cut short): the figures from the protocol the
    # recording stores and from the repetitions that were recorded, not "0/None reps"
    protocol = meta.get("protocol")
    protocol = protocol if isinstance(protocol, Mapping) else {}
    holds = [float(r["hold_s"]) for r in reps if isinstance(r.get("hold_s"), int | float)]
    return {
        "session": meta.get("session"), "patient": meta.get("patient"),
        "start": meta.get("start_iso") or meta.get("start"),
        "simulated": bool(meta.get("simulated", False)),
        "protocol": meta.get("protocol_name") or protocol.get("name"),
        "technique": summary.get("technique", protocol.get("technique")),
        "duration_s": levels[-1][0] if levels else 0.0,
        "reps_done": summary.get("reps_done", len(reps)),
        "reps_planned": summary.get("reps_planned", protocol.get("reps")),
        "mean_hold_s": summary.get("mean_hold_s",
                                   round(sum(holds) / len(holds), 2) if holds else None),
        "violations": summary.get("violations",
                                  [v for r in reps for v in r.get("violations", [])]),
        "complete": summary.get("complete", False),
        "stop_reason": str(summary.get("stop_reason") or "") if summary else NO_SUMMARY,
        "intensity_unit": unit, "intensity_band": band,
        "reps": reps, "events": events, "phases": phases, "cues": cues,
        "signal": signal,
        # intensities shown in another unit (multiples of rest before the MVC was measured)
        # cannot share an axis with % MVC: they are left out (null), the angle is kept
        "timeline": {"columns": ["t", "intensity", "angle_deg"],
                     "rows": [[t, x if u == unit else None, a] for t, x, a, u in levels]},
    }


def signal_text(event: Event) -> str | None:
    """What a signal-quality event tells the clinician reading the report (an electrode
    off, a converter at its limit, a mains hum), or None for any other event.

    >>> signal_text(Event(EventType.SIGNAL_QUALITY, 12.0, 12.3, "emg", 2.0,
    ...                   {"issue": "flat", "state": "start", "channel": 2}))
    'a flat line on channel 2 from 12.0 s (electrode off?)'
    """
    if event.type != EventType.SIGNAL_QUALITY:
        return None
    d = event.detail
    if d.get("issue") == "mains":
        return notched_hum_note([event]) or (
            f"a {hz_text(d.get('hz'))} Hz mains hum not notched (chain.mains_hz is "
            f"{hz_text(d.get('notched'))}): gentle contractions may have gone unseen")
    if d.get("state") != "start":
        return None
    if d.get("issue") == "noisy":
        return (f"the sensor's noise at rest {d.get('rise')}× the calibration's from "
                f"{event.t:.1f} s (sweat, a loose strap?)")
    what = {"flat": "a flat line", "saturation": "the converter at its limit"}.get(
        str(d.get("issue")), str(d.get("issue")))
    hint = " (electrode off?)" if d.get("issue") == "flat" else ""
    return f"{what} on channel {d.get('channel')} from {event.t:.1f} s{hint}"


#: why a report has no session summary: the recording ends before it
NO_SUMMARY = ("the recording ends before the session's summary (the session was killed or "
              "the file cut short); figures from the repetitions recorded")


def known(value: Any) -> str:
    """A report's value as text; "—" where it is unknown (foreign data has no patient)."""
    return "—" if value is None else str(value)


def band_text(band: Sequence[float]) -> str:
    """``50–140`` (the page showed Python's ``[50.0, 140.0]``); "—" when there is none."""
    return f"{band[0]:g}–{band[1]:g}" if len(band) == 2 else "—"


def reps_text(report: Mapping[str, Any]) -> str:
    """``2/3 reps``; ``2 reps`` when none were planned (detection only)."""
    done, planned = report["reps_done"], report["reps_planned"]
    return f"{done}/{planned}" if planned is not None else str(done)


def _svg(report: Mapping[str, Any], width: int = 960) -> str:
    rows = report["timeline"]["rows"]
    if not rows:
        return "<p>No live level data in this session.</p>"
    t_end = float(max(rows[-1][0], 1e-3))
    left, right, h = 56, 12, 170
    plot_w = width - left - right

    def x(t: float) -> float:
        return left + plot_w * t / t_end

    def panel(top: int, col: int, label: str, ymax: float, band: Sequence[float]) -> list[str]:
        def y(v: float) -> float:
            return top + h - h * min(max(v, 0.0), ymax) / ymax

        parts = []
        phases = report["phases"]
        for i, ph in enumerate(phases):
            t1 = phases[i + 1]["t"] if i + 1 < len(phases) else t_end
            color = _PHASE_COLORS.get(str(ph["phase"]))
            if color:
                parts.append(f'<rect x="{x(ph["t"]):.1f}" y="{top}" '
                             f'width="{max(x(t1) - x(ph["t"]), 0):.1f}" height="{h}" '
                             f'fill="{color}"><title>{html.escape(str(ph["phase"]))}</title>'
                             "</rect>")
        if len(band) == 2:
            parts.append(f'<rect x="{left}" y="{y(band[1]):.1f}" width="{plot_w}" '
                         f'height="{y(band[0]) - y(band[1]):.1f}" fill="#2a8a2a" '
                         'fill-opacity="0.12"><title>target band</title></rect>')
        runs: list[list[str]] = [[]]  # a missing value breaks the line
        for r in rows:
            if r[col] is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append(f"{x(r[0]):.1f},{y(r[col]):.1f}")
        for run in runs:
            if run:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="#222" '
                             'stroke-width="1.2"/>')
        for ev in report["events"]:
            c = _EVENT_COLORS.get(ev["type"])
            if c:
                parts.append(f'<line x1="{x(ev["t"]):.1f}" x2="{x(ev["t"]):.1f}" y1="{top}" '
                             f'y2="{top + h}" stroke="{c}" stroke-dasharray="3,2">'
                             f'<title>{ev["type"]} at {ev["t"]:.2f} s</title></line>')
        parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{h}" fill="none" '
                     'stroke="#999"/>')
        parts.append(f'<text x="{left + 6}" y="{top + 14}" font-size="12">'
                     f"{html.escape(label)}</text>")
        parts.append(f'<text x="{left - 4}" y="{top + 10}" font-size="10" '
                     f'text-anchor="end">{ymax:.0f}</text>')
        parts.append(f'<text x="{left - 4}" y="{top + h}" font-size="10" '
                     'text-anchor="end">0</text>')
        return parts

    band = report["intensity_band"]
    imax = max([r[1] for r in rows if r[1] is not None]
               + [band[1] * 1.3 if len(band) == 2 else 1.0]) or 1.0
    amax = max([r[2] for r in rows] + [10.0])
    # drawn in a width x height box and scaled to the page (a printed page or a laptop
    # window is narrower than the drawing: its right part, the session's end, was cut off)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {2 * h + 70}" '
             f'style="width:100%;max-width:{width}px;height:auto" font-family="sans-serif">']
    parts += panel(10, 1, f"intensity ({report['intensity_unit']})", imax, band)
    parts += panel(h + 30, 2, "joint angle (°)", amax, ())
    for k in range(0, int(t_end) + 1, max(1, int(t_end / 10))):
        parts.append(f'<text x="{x(k):.1f}" y="{2 * h + 50}" font-size="10" '
                     f'text-anchor="middle">{k} s</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def limit_text(rep: Mapping[str, Any]) -> str:
    """" of 8.1" after a repetition's relax residual when the coach judged it against a
    limit the rest's noise raised (the clinician sees why 6.5 was not "not relaxed")."""
    limit = rep.get("relax_limit")
    return "" if not isinstance(limit, int | float) else f" of {limit:.1f}"


def report_html(report: Mapping[str, Any]) -> str:
    """One self-contained page: headline numbers, the per-rep table and the picture."""
    e = html.escape

    def num(v: Any, fmt: str = "{:.1f}") -> str:
        return "–" if v is None else fmt.format(v)

    rows = "".join(
        f"<tr><td>{r.get('rep')}</td><td>{num(r.get('hold_s'))}</td>"
        f"<td>{num(r.get('mean_intensity'))}</td><td>{num(r.get('peak_intensity'))}</td>"
        f"<td>{num(r.get('relax_residual'))}{limit_text(r)}</td>"
        f"<td>{num(r.get('rom_deg'))}</td>"
        f"<td>{num(r.get('rom_gain_deg'), '{:+.1f}')}</td>"
        f"<td>{e(', '.join(r.get('violations', [])) or 'none')}</td></tr>"
        for r in report["reps"])
    sim = (' <b style="color:#c0392b">(simulated patient, not a real session)</b>'
           if report["simulated"] else "")
    cut = (f'\n<b style="color:#c0392b">Ended early: {e(report["stop_reason"])}.</b><br>'
           if report.get("stop_reason") else "")
    unit = e(str(report["intensity_unit"]))
    legend = " · ".join(f'<span style="color:{c}">┆ {k}</span>' for k, c in _EVENT_COLORS.items())
    phases = " ".join(f'<span style="background:{c};padding:0 4px">{k}</span>'
                      for k, c in _PHASE_COLORS.items())
    protocol = f" (protocol: {e(report['protocol'])})" if report.get("protocol") else ""
    notes = report.get("signal") or []
    signal = ("\n<p>Signal: " + "; ".join(e(n) for n in notes) + ".</p>") if notes else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Session report {e(str(report['session']))}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:3px 8px;text-align:right}}
</style></head><body>
<h1>Session report</h1>
<p>Session <b>{e(known(report['session']))}</b>, patient {e(known(report['patient']))},
started {e(known(report['start']))}{sim}.<br>{cut}
Technique: {e(known(report['technique']))}{protocol}. Repetitions:
<b>{e(reps_text(report))}</b>, mean hold
<b>{num(report['mean_hold_s'])} s</b>, violations:
<b>{e(', '.join(report['violations']) or 'none')}</b>.
Target intensity {e(band_text(report['intensity_band']))} {unit}.</p>{signal}
<table><tr><th>rep</th><th>hold s</th><th>mean ({unit})</th><th>peak ({unit})</th>
<th>relax residual ({unit})</th><th>ROM °</th><th>ROM gain °</th><th>violations</th></tr>
{rows}</table>
<h2>Intensity and joint angle</h2>
<p>{legend}<br>{phases}</p>
{_svg(report)}
<p style="font-size:small">Advisory feedback, not a diagnosis. Relax residual: muscle
activity left after release (lower is more relaxed); "of N": the limit it was judged
against, raised above the prescribed one where the sensor's rest noise reads that much.
ROM: joint angle reached in the stretch.
</p>
<script type="application/json" id="report-data">{e(json.dumps(report["reps"]))}</script>
</body></html>
"""
