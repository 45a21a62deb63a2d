"""``isofeedback eval``: detector metrics on labelled data (:mod:`isofeedback.research.eval`)."""

from __future__ import annotations

from typing import Any

from isofeedback.research.eval import add_eval_arguments, run_eval

__all__ = ["register", "run_eval"]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "eval",
        help="measure onset, release and movement detection on labelled data",
        description="Run the detectors over labelled data (simulated records, or a CSV with "
        "annotations) and print timing error, decision latency, missed and false detections "
        "per minute and CPU time per second of signal.",
    )
    add_eval_arguments(p)
    p.set_defaults(run=run_eval)
