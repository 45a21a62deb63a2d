"""The clinician's cross-session report: ROM per technique and muscle, hold quality, pain,
adherence to the prescription, and the sessions that need a look.

Pure: built from the patient store's session summaries (and the prescription, when there is
one) into a JSON-ready dict and one self-contained HTML page whose plots are inline SVG (no
plotting library, opens anywhere, prints to PDF with a headless browser). Every axis says
its unit. Advisory: a record of home practice, not a diagnosis.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from isofeedback.coach.prescription import (
    Prescription,
    adherence,
    exercised_days,
    session_day,
)
from isofeedback.coach.progress import progress_report

__all__ = ["clinician_html", "clinician_report", "flags"]

_COLORS = ("#1f5fbf", "#c0392b", "#2a8a2a", "#8e44ad", "#d35400", "#16a085")
MANY_VIOLATIONS = 3  # a session with this many violations is flagged


_day = session_day  # one reading of a stored session's day


def flags(row: Mapping[str, Any]) -> list[str]:
    """Why a session needs the clinician's look (empty: it does not)."""
    out = []
    if row.get("pain_max"):
        out.append(f"pain {row['pain_max']:g}/10")
    if not row.get("complete"):
        out.append(f"incomplete: {row.get('stop_reason') or 'ended early'}")
    if int(row.get("violations") or 0) >= MANY_VIOLATIONS:
        out.append(f"violations: {row.get('violations_text')}")
    if row.get("reps_credited", 0) < row.get("reps_done", 0):
        out.append(f"{row['reps_done'] - row['reps_credited']} rep(s) not credited")
    return out


def clinician_report(patient: str, sessions: Sequence[Mapping[str, Any]],
                     prescription: Prescription | None = None,
                     today: dt.date | None = None) -> dict[str, Any]:
    progress = progress_report(sessions, hold=True)
    rows = progress["history"]
    for r in rows:
        r["flags"] = flags(r)
    days = [d for d in (_day(r["wall"]) for r in rows) if d is not None]
    report: dict[str, Any] = {
        "patient": patient,
        "sessions": len(rows),
        "groups": progress["groups"],
        "history": rows,
        "violations": progress["violations"],
        "flagged": [r for r in rows if r["flags"]],
        "prescription": prescription.as_dict() if prescription else None,
        "adherence": None,
    }
    if prescription is not None:
        end = today or (max(days) if days else prescription.start)
        report["adherence"] = adherence(prescription, exercised_days(rows), end)
    return report


# -- HTML -----------------------------------------------------------------------------------
def _plot(title: str, unit: str, series: Mapping[str, list[tuple[int, float]]], n: int,
          y_max: float | None = None, bars: bool = False, target: float | None = None) -> str:
    """One SVG chart: x = session (or day) number, y in ``unit``."""
    w, h, left, bottom, top = 640, 220, 56, 34, 26
    pw, ph = w - left - 16, h - bottom - top
    values = [v for pts in series.values() for _, v in pts]
    hi = y_max or _nice_top(max([*values, target or 0.0, 1e-9]) * 1.1)
    def x(i: int) -> float:
        return left + (i + 0.5) * pw / max(n, 1)
    def y(v: float) -> float:
        return top + ph - v / hi * ph
    e = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'role="img" aria-label="{e(title)}">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{e(title)}</text>',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#444"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#444"/>']
    for k in range(5):
        v = hi * k / 4
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{v:g}</text>')
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{left + pw}" y2="{y(v):.1f}" '
                     'stroke="#eee"/>')
    parts.append(f'<text x="14" y="{top + ph / 2}" font-size="11" '
                 f'transform="rotate(-90 14 {top + ph / 2})" text-anchor="middle">{e(unit)}</text>')
    label = "day" if bars else "session"
    parts.append(f'<text x="{left + pw / 2}" y="{h - 4}" font-size="11" text-anchor="middle">'
                 f'{label} (number)</text>')
    for i in range(n):
        parts.append(f'<text x="{x(i):.1f}" y="{top + ph + 14}" font-size="10" '
                     f'text-anchor="middle">{i + 1}</text>')
    if target is not None:
        parts.append(f'<line x1="{left}" y1="{y(target):.1f}" x2="{left + pw}" '
                     f'y2="{y(target):.1f}" stroke="#2a8a2a" stroke-dasharray="5 3"/>'
                     f'<text x="{left + pw - 2}" y="{y(target) - 4:.1f}" font-size="10" '
                     f'text-anchor="end" fill="#2a8a2a">prescribed</text>')
    legend: list[str] = []
    for k, (name, pts) in enumerate(series.items()):
        color = _COLORS[k % len(_COLORS)]
        if bars:
            bw = pw / max(n, 1) * 0.6
            parts += [f'<rect x="{x(i) - bw / 2:.1f}" y="{y(v):.1f}" width="{bw:.1f}" '
                      f'height="{top + ph - y(v):.1f}" fill="{color}"/>' for i, v in pts]
        else:
            path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" '
                         'stroke-width="2"/>')
            parts += [f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{color}"/>'
                      for i, v in pts]
        legend.append(f'<span style="color:{color}">■ {e(name)}</span>')
    parts.append("</svg>")
    return "".join(parts) + f'<p class="legend">{" &nbsp; ".join(legend)}</p>'


def _nice_top(v: float) -> float:
    """The smallest 4 × (a round step × 10^k) at or above ``v``: round axis ticks.

    >>> _nice_top(20.9), _nice_top(2.3)
    (24.0, 2.4)
    """
    k = 10.0 ** math.floor(math.log10(v / 4))
    step = next(m * k for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
                if 4 * m * k >= v)
    return round(4 * step, 10)


def _hold_span(group: Mapping[str, Any]) -> str:
    """``7 → 9``: the contraction hold of a group's first and last session (seconds).

    >>> _hold_span({"hold_first_s": 7.0, "hold_last_s": 9.0}), _hold_span({})
    ('7 → 9', '-')
    """
    first, last = group.get("hold_first_s"), group.get("hold_last_s")
    if first is None or last is None:
        return "-"
    return f"{first:g}" if first == last else f"{first:g} → {last:g}"


def clinician_html(report: Mapping[str, Any]) -> str:
    e = html.escape
    rows = report["history"]
    n = len(rows)
    def series(field: str, scale: float = 1.0) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        for i, r in enumerate(rows):
            if r.get(field) is not None:
                out.setdefault(r["group"], []).append((i, float(r[field]) * scale))
        return out
    plots = [
        _plot("Range of motion reached, per technique and muscle", "ROM (degrees)",
              series("rom_deg"), n),
        _plot("Hold quality (time in the intensity band / prescribed hold)",
              "hold quality (%)", series("hold_quality", 100.0), n, y_max=100.0),
        _plot("Contraction hold per session (lengthened after good sessions, shortened "
              "after pain)", "hold (seconds)", series("hold_s"), n),
        # only sessions with a rating: a session without one is not a reported 0
        _plot("Pain reported during the session (highest; no point: none reported)",
              "pain (0-10)", {"pain": [(i, float(r["pain_max"])) for i, r in enumerate(rows)
                                       if r["pain_max"] is not None]}, n, y_max=10.0),
    ]
    adh = report.get("adherence")
    adherence_text = "no prescription on file"
    if adh:
        per_day = list(adh["per_day"].values())
        plots.append(_plot("Adherence: sessions per day", "sessions (per day)",
                           {"done": list(enumerate(map(float, per_day)))}, len(per_day),
                           bars=True, target=float(adh["times_per_day"])))
        adherence_text = (f"{adh['done']} of {adh['due']} prescribed sessions done "
                          f"({100 * (adh['rate'] or 0):.0f} %)")
    rx = report.get("prescription")
    rx_text = (f"{e(rx['protocol'])}, {rx['times_per_day']}× a day for {rx['days']} days from "
               f"{e(rx['start'])}" if rx else "none")
    trend_rows = "".join(
        f"<tr><td>{e(g['group'])}</td><td>{g['sessions']}</td>"
        f"<td>{'-' if g['rom_change_deg'] is None else format(g['rom_change_deg'], '+.1f')}</td>"
        f"<td>{'-' if g['best_rom_deg'] is None else format(g['best_rom_deg'], '.1f')}</td>"
        f"<td>{'-' if g['hold_quality_change_pp'] is None else format(g['hold_quality_change_pp'], '+.0f')}</td>"  # noqa: E501
        f"<td>{_hold_span(g)}</td></tr>"
        for g in report["groups"])
    flagged = "".join(
        f"<tr><td>{i + 1}</td><td>{e(str(r['wall'])[:16])}</td><td>{e(r['group'])}</td>"
        f"<td>{e('; '.join(r['flags']))}</td></tr>"
        for i, r in enumerate(rows) if r["flags"]) or '<tr><td colspan="4">none</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Home programme report: {e(report['patient'])}</title>
<style>body{{font-family:sans-serif;margin:24px;max-width:760px}}
table{{border-collapse:collapse;margin:8px 0 16px}}td,th{{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:left}}svg{{display:block;margin:8px 0}}
.legend{{font-size:12px;margin:0 0 12px 56px}}
@media print{{svg{{page-break-inside:avoid}}}}</style></head><body>
<h1>Home programme report: {e(report['patient'])}</h1>
<p>{report['sessions']} session{'' if report['sessions'] == 1 else 's'}. Prescription: {rx_text}.
Adherence: {adherence_text}.
Violations over all sessions: {e(report['violations'] or 'none')}.</p>
<h2>Trends (each technique and muscle on its own)</h2>
<table><tr><th>technique · muscle</th><th>sessions</th><th>ROM change (°)</th>
<th>best ROM (°)</th><th>hold quality change (percentage points)</th>
<th>hold, first → last (s)</th></tr>{trend_rows}</table>
{''.join(plots)}
<h2>Sessions to look at</h2>
<table><tr><th>session</th><th>when (UTC)</th><th>technique · muscle</th><th>why</th></tr>
{flagged}</table>
<p style="font-size:11px;color:#666">Advisory record of home practice measured with a
wearable sensor; not a diagnosis. ROM: degrees from the first barrier of each session;
hold quality: fraction of the prescribed hold spent in the intensity band.</p>
</body></html>
"""
