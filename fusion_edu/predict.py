"""Predict, then check: a trace with its concrete shapes hidden, answers checked row by row with hints.

``p = predict(t)`` (or ``predict(t, rows=[3, 4])``) shows the steps and their symbolic specs, with the
concrete shapes of the asked rows replaced by "?" (and of every later row by "·", which would give
them away), and only the names that the inputs give away
(B, C, H, W ...) in the symbols line: the student works out the rest (heads, H', ...). ``p.check({3:
(1, 8, 8, 49)})`` answers each row with ✓, or with a hint that names the wrong axis and what it
stands for, never the number. ``p.reveal()`` is the full trace, only on request.

This module knows no block; it works on any `Trace`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import type_error, value_error
from .lang import pick, resolve
from .trace import Step, Trace, pad, parse_spec, text_width

__all__ = ["predict", "Prediction", "PredictionCheck", "parse_shape"]


def parse_shape(text: Any) -> tuple[int, ...]:
    """A shape typed by a student: ``(1, 8, 49, 16)``, ``[1, 8, 49, 16]``, ``1 8 49 16``, ``1x8x49x16``.

    Example:
        >>> parse_shape("(1, 8, 49, 16)"), parse_shape("1×8×49×16"), parse_shape((2, 3))
        ((1, 8, 49, 16), (1, 8, 49, 16), (2, 3))
    """
    if isinstance(text, (tuple, list)) and all(isinstance(v, int) and not isinstance(v, bool) for v in text):
        return tuple(text)
    if hasattr(text, "shape") and not isinstance(text, str):
        return tuple(text.shape)
    if not isinstance(text, str):
        raise type_error("predict", "a prediction must be a shape such as (1, 8, 49, 16)",
                         {"type": type(text).__name__}, "Write it as a tuple of ints or a string.",
                         zh="预测必须是形状，例如 (1, 8, 49, 16)", zh_hint="请写成整数元组或字符串。")
    parts = [p for p in re.split(r"[\s,x×*()\[\]]+", text.strip()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise value_error("predict", "a prediction must list whole numbers", {"prediction": text},
                          "Example: '(1, 8, 49, 16)' or '1 8 49 16'.", zh="预测只能包含整数",
                          zh_hint="例如 '(1, 8, 49, 16)' 或 '1 8 49 16'。")
    return tuple(int(p) for p in parts)


@dataclass
class PredictionCheck:
    """The answer to `Prediction.check`: one ✓ or hint per row that was answered.

    Attributes:
        results: ``{row: (correct, zh, en)}``.
    """

    results: dict[int, tuple[bool, str, str]]
    lang: str | None = None

    @property
    def correct(self) -> bool:
        return bool(self.results) and all(ok for ok, _, _ in self.results.values())

    @property
    def score(self) -> tuple[int, int]:
        return sum(ok for ok, _, _ in self.results.values()), len(self.results)

    def to_text(self) -> str:
        lang = resolve(self.lang)
        right, total = self.score
        lines = [pick(f"答对 {right}/{total}", f"{right}/{total} right", lang, " · ")]
        for row, (ok, zh, en) in self.results.items():
            lines.append(f"  #{row} {'✓' if ok else '✗'} {pick(zh, en, lang, ' / ')}")
        return "\n".join(lines)

    __str__ = to_text

    def _repr_html_(self) -> str:
        lang = resolve(self.lang)
        right, total = self.score
        colour = "#2e7d32" if self.correct else "#b26a00"
        items = "".join(f"<li style='color:{'#2e7d32' if ok else '#b71c1c'}'><b>#{row} {'✓' if ok else '✗'}</b> "
                        f"{html.escape(pick(zh, en, lang, ' / '))}</li>" for row, (ok, zh, en) in self.results.items())
        return (f"<div class='fusion-edu-predict-check'><b style='color:{colour}'>"
                f"{html.escape(pick(f'答对 {right}/{total}', f'{right}/{total} right', lang, ' · '))}</b>"
                f"<ul>{items}</ul></div>")


@dataclass
class Prediction:
    """A trace shown with the concrete shapes of `rows` hidden, waiting for the student's predictions.

    Attributes:
        trace: The full trace (kept out of sight until `reveal`).
        rows: The row numbers (1-based, as in the table) the student is asked about.
        given: The symbols the inputs give away (shown); the others are for the student to work out.
    """

    trace: Trace
    rows: list[int]
    given: dict[str, int] = field(default_factory=dict)
    lang: str | None = None

    def check(self, answers: Mapping[int, Any] | Iterable[Any]) -> PredictionCheck:
        """Checks predictions: ``{row: shape}``, or a list in the order of `rows`. Shapes may be strings."""
        if not isinstance(answers, Mapping):
            answers = dict(zip(self.rows, answers))
        results = {}
        for row, answer in answers.items():
            if row not in self.rows:
                raise value_error("predict", f"only rows {self.rows} are asked", {"row": row},
                                  "Answer one of the rows with a ? in the table.", zh=f"只需回答第 {self.rows} 行",
                                  zh_hint="请回答表中标 ? 的行。")
            step = self.trace.rows[row - 1]
            results[row] = _judge(step, None if answer is None else parse_shape(answer), self.given)
        return PredictionCheck(results, self.lang)

    def reveal(self) -> Trace:
        """The full trace with every concrete shape (only when asked for)."""
        return self.trace.in_lang(self.lang)

    def shown(self, step: Step) -> str:
        """What the table shows for a row: "?" when asked, "·" when it would give an answer away, else the shape."""
        if step.index in self.rows:
            return "?"
        return "·" if step.index > self.rows[0] else step.concrete

    def to_text(self) -> str:
        lang = resolve(self.lang)
        lines = [self.trace.name, pick("已知", "given", lang) + ": " + _symbols(self.given)]
        texts = [pick(r.zh, r.en, lang, " / ") for r in self.trace.rows]
        width = max(map(text_width, texts), default=0)
        specs = max((len(r.spec) for r in self.trace.rows), default=0)
        for r, text in zip(self.trace.rows, texts):
            lines.append(f"{r.index:>3}  {pad(text, width)}  {r.spec:<{specs}}  {self.shown(r)}")
        return "\n".join(lines)

    __str__ = to_text

    def _repr_html_(self) -> str:
        lang = resolve(self.lang)
        esc = html.escape
        head = (f"<div><b>{esc(self.trace.name)}</b> · {pick('先预测，再核对', 'predict, then check', lang)}</div>"
                f"<div>{pick('已知', 'given', lang)}: <code>{esc(_symbols(self.given))}</code> — "
                f"{pick('其余符号请自己推出来', 'work out the other names yourself', lang)}</div>")
        cells = "text-align:left;vertical-align:top;padding:2px 6px"
        rows = []
        for r in self.trace.rows:
            asked, shown = r.index in self.rows, self.shown(r)
            shape = ("<b style='color:#1f4e79'>?</b>" if asked else "<span style='color:#999'>·</span>"
                     if shown == "·" else f"<code style='white-space:nowrap'>{esc(r.concrete)}</code>")
            style = " style='background:#eef4fb'" if asked else ""
            rows.append(f"<tr{style}><td style='{cells}'>{r.index}</td>"
                        f"<td style='{cells};white-space:normal'>{esc(pick(r.zh, r.en, lang, ' / '))}</td>"
                        f"<td style='{cells};white-space:nowrap'><code style='white-space:nowrap'>{esc(r.spec)}"
                        f"</code></td><td style='{cells};white-space:nowrap'>{shape}</td></tr>")
        header = "".join(f"<th style='{cells}'>{esc(c)}</th>" for c in (
            "#", pick("步骤", "step", lang), pick("符号形状", "symbolic", lang), pick("具体形状", "concrete", lang)))
        return (f"<div class='fusion-edu-predict'>{head}<table style='border-collapse:collapse'>"
                f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def predict(trace: Trace, rows: Iterable[int] | None = None, *, lang: str | None = None) -> Prediction:
    """The trace as a prediction exercise: the concrete shapes of `rows` (default: all) hidden.

    Example:
        >>> from fusion_edu import meta_trace
        >>> p = predict(meta_trace("osra"), rows=[13], lang="en")
        >>> p.given
        {'B': 1, 'C': 64, 'H': 32, 'W': 32}
        >>> p.check({13: (1, 8, 1024, 1024)}).correct, p.check({13: "1 8 1024 256"}).correct
        (False, True)
    """
    if not isinstance(trace, Trace):
        raise type_error("predict", "predict needs a Trace", {"type": type(trace).__name__},
                         "Example: predict(trace(model, *inputs)).", zh="predict 需要一个 Trace",
                         zh_hint="例如 predict(trace(model, *inputs))。")
    asked = sorted(set(rows)) if rows is not None else [r.index for r in trace.rows]
    bad = [r for r in asked if not 1 <= r <= len(trace.rows)]
    if bad:
        raise value_error("predict", f"rows must be between 1 and {len(trace.rows)}", {"rows": bad},
                          "Use the numbers of the trace's # column.", zh=f"rows 必须在 1 到 {len(trace.rows)} 之间")
    return Prediction(trace, asked, _given(trace), lang)


def _given(trace: Trace) -> dict[str, int]:
    """The symbols the inputs give away: those bound by the rows whose shape is an input's shape."""
    inputs = {tuple(s) for s in trace.inputs if isinstance(s, tuple)}
    names: dict[str, int] = {}
    for r in trace.rows:
        if r.module == "" and r.shape in inputs:
            for dim, size in zip(parse_spec(r.spec), r.shape):
                if dim.kind == "name":
                    names.setdefault(dim.value, size)
    return {k: v for k, v in trace.symbols.items() if k in names}


def _symbols(values: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "-"


def _judge(step: Step, guess: tuple[int, ...] | None, given: Mapping[str, int]) -> tuple[bool, str, str]:
    """✓, or a hint towards the right shape that names the axis and its meaning, never the number."""
    spec = step.spec.split()
    if guess is None:
        return False, "还没有回答", "not answered yet"
    if guess == step.shape:
        return True, f"对：{step.spec}", f"right: {step.spec}"
    if len(guess) != len(step.shape):
        return (False, f"维数不对：这一步有 {len(step.shape)} 维（{step.spec}），你写了 {len(guess)} 维",
                f"wrong number of axes: this step has {len(step.shape)} ({step.spec}); you wrote {len(guess)}")
    wrong = [i for i, (g, s) in enumerate(zip(guess, step.shape)) if g != s]
    i = wrong[0]
    token = spec[i] if len(spec) == len(step.shape) else "?"
    direction = ("大了" if guess[i] > step.shape[i] else "小了", "too big" if guess[i] > step.shape[i] else "too small")
    more = f"（还有 {len(wrong) - 1} 维也不对）" if len(wrong) > 1 else ""
    more_en = f" ({len(wrong) - 1} more axis wrong)" if len(wrong) > 1 else ""
    unknown = [n for n in dict.fromkeys(_NAME.findall(token)) if n not in given and n not in step.dims]
    if unknown:
        names = ", ".join(unknown)
        zh = f"第 {i + 1} 维是 {token}：先推出 {names}，你的数{direction[0]}{more}"
        en = f"axis {i + 1} is {token}: work out {names} first; your number is {direction[1]}{more_en}"
    else:
        zh = f"第 {i + 1} 维是 {token}，用已知的符号算一算：你的数{direction[0]}{more}"
        en = f"axis {i + 1} is {token}; compute it from the given names: your number is {direction[1]}{more_en}"
    return False, zh, en


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*'*")
