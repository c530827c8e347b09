"""Exercises with checks, one module per block: predict a shape, predict an effect, write or change code.

Each exercise has a prompt in Chinese and English and ``check(answer)``, which says whether the
answer is right and, if not, in which direction it is off (without giving the answer away);
``check(None)`` says it is not answered yet. ``reveal()`` gives the answer and the reason, and only
when a student asks for it. Answers are computed from the package (meta-device traces, the blocks
themselves), not typed in.

Example:
    >>> ex = exercise("osra", 1)
    >>> ex.check(None).answered, ex.check(5).correct, ex.check(ex.answer).correct
    (False, False, True)
"""

from __future__ import annotations

from ...errors import value_error
from ..feedback import Exercise
from . import cbam_joint, gated_fusion, mfe, msaa, msf, osra, safm

__all__ = ["EXERCISES", "exercise"]


def _build() -> dict[str, list[Exercise]]:
    catalog = {"gated_fusion": gated_fusion.exercises(), "msf": msf.exercises(), "mfe": mfe.exercises(),
               "safm": safm.exercises(), "osra": osra.exercises(), "msaa": msaa.exercises(),
               "cbam_joint": cbam_joint.exercises()}
    for items in catalog.values():
        for n, ex in enumerate(items, start=1):
            ex.n = n
    return catalog


EXERCISES: dict[str, list[Exercise]] = _build()


def exercise(key: str, n: int) -> Exercise:
    """Exercise number `n` (from 1) of block `key`."""
    if key not in EXERCISES:
        raise value_error("exercise", f"key must be one of {list(EXERCISES)}", {"key": key})
    items = EXERCISES[key]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(items):
        raise value_error("exercise", f"n must be 1..{len(items)} for {key}", {"n": n})
    return items[n - 1]
