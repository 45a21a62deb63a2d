"""The session summary as the terminal shows it at the end of every session."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from isofeedback.coach.progress import count_violations
from isofeedback.coach.protocol import UNIT_WORDS
from isofeedback.service import SessionResult

__all__ = ["print_summary"]


def _limit_note(summary: dict[str, Any]) -> str:
    """What "after" was judged against when the sensor's noise raised the limit above
    the prescribed one (else an "after" of 8.3 with no problem would read as an
    oversight next to a prescribed 5); empty when it was not raised."""
    limits = [r["relax_limit"] for r in summary["reps"] if r.get("relax_limit") is not None]
    if not limits:
        return ""
    lo, hi = min(limits), max(limits)
    span = f"{lo:.1f}" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}-{hi:.1f}"
    return f"; counted as relaxed up to {span} (the sensor's rest noise)"


def print_summary(
    console: Console, result: SessionResult, mqtt: dict[str, Any], session: str
) -> None:
    s = result.summary
    # the session id can be long: it goes on its own unwrapped line, not in the table title
    console.print(f"Session {session}", soft_wrap=True)
    unit = UNIT_WORDS.get(str(s.get("unit")), str(s.get("unit", "")))
    # short headers, the unit once in the caption: the table fits an 80-column terminal
    table = Table(title=f"{s['reps_done']}/{s['reps_planned']} reps", box=box.SIMPLE_HEAD,
                  caption=f"hold and in band: seconds; mean, peak and after (the release): "
                  f"effort in {unit}{_limit_note(s)}")
    rows = []
    for r in s["reps"]:
        in_band = r.get("hold_in_band_s")  # not in summaries stored before it existed
        rows.append([
            str(r["rep"]), f"{r['hold_s']:.1f}",
            "-" if in_band is None else f"{in_band:.1f}",
            f"{r['mean_intensity']:.1f}",
            f"{r['peak_intensity']:.1f}",
            "-" if r["relax_residual"] is None else f"{r['relax_residual']:.1f}",
            "-" if r["rom_deg"] is None else f"{r['rom_deg']:.1f}",
            "-" if r["rom_gain_deg"] is None else f"{r['rom_gain_deg']:+.1f}",
            ", ".join([*r["violations"], *([] if r.get("credited", True)
                                            else ["not credited"])]) or "none",
        ])
    for col in ("rep", "hold", "in band", "mean", "peak", "after", "ROM °", "gain °"):
        table.add_column(col, no_wrap=True)
    table.add_column("problems", min_width=len("released"))
    for row in rows:
        table.add_row(*row)
    # what the figures and the headers need unwrapped (problems wrap onto more lines)
    figures = Measurement.get(console, console.options.update_width(10_000), table).maximum - max(
        (len(row[-1]) for row in rows), default=0) + len("released")
    if rows and figures <= console.width:
        console.print(table)
    elif rows:
        # narrower than the table (a phone's terminal, a split pane): the table would cut
        # its figures ("109…") or fold its headers mid-word; a line a repetition wraps
        console.print(f"{s['reps_done']}/{s['reps_planned']} reps", soft_wrap=False)
        for rep, hold, in_band, mean, peak, after, rom, gain, problems in rows:
            moved = "ROM not measured" if rom == "-" else f"ROM {rom}° ({gain}°)"
            console.print(f"Rep {rep}: hold {hold} s ({in_band} s in band), mean {mean}, "
                          f"peak {peak}, after {after}; {moved}; "
                          f"{'no problems' if problems == 'none' else problems}")
        console.print(f"Mean, peak and after (the release): effort in {unit}"
                      f"{_limit_note(s)}")
    if s.get("stop_reason"):  # stopped by the patient, a pain rule, the service …
        console.print(f"Ended early: {s['stop_reason']}")
    violations = count_violations(s["violations"]) or "none"
    # no repetition finished (stopped during the first): no empty table, no "0.0 s" hold
    hold = (f"mean hold {s['mean_hold_s']:.1f} s" if s["reps_done"] else
            f"no repetition finished (0 of {s['reps_planned']})")
    console.print(
        f"{hold}; violations: {violations}; "
        f"{result.stats.packets} packets ({result.stats.bad_packets} bad) "
        f"in {result.wall_s:.1f} s; "
        f"MQTT: {mqtt['published']} messages published, {mqtt['live_dropped']} live levels dropped"
    )
