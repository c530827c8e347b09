"""The exercise engine: questions with computed answers, checks that say what is off without giving the
answer away, and bilingual feedback.

`Exercise` holds one question (``prompt``, ``check(answer) -> Feedback``, ``reveal() -> Reveal``);
`Feedback` and `Reveal` are what a check answers with, in Chinese and English, also used by the
guided remix tasks (`fusion_edu.learn.remix_tasks`). The questions themselves are in
`fusion_edu.learn.exercises`.

Example:
    >>> ex = Exercise("osra", "int", "6 + 1 = ?", "6 + 1 = ?", lambda: 7, "{answer}", "{answer}")
    >>> ex.check(8).en
    'Too large.'
    >>> ex.check("7").correct
    True
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import value_error
from ..lang import fold, pick

__all__ = ["KINDS", "Choice", "Hint", "Feedback", "Reveal", "Exercise", "CodeExercise", "NOT_ANSWERED"]

KINDS = ("int", "float", "shape", "sizes", "choice")


@dataclass(frozen=True)
class Choice:
    """One option of a multiple-choice exercise; ``why_*`` is the feedback when it is picked wrongly."""

    letter: str
    zh: str
    en: str
    why_zh: str = ""
    why_en: str = ""


@dataclass(frozen=True)
class Hint:
    """A typical wrong answer and the feedback it gets (which must not contain the right answer)."""

    wrong: Any
    zh: str
    en: str


@dataclass(frozen=True)
class Feedback:
    """The result of ``Exercise.check``: right or not (or not answered yet), and a hint in Chinese and English."""

    correct: bool
    zh: str
    en: str
    answered: bool = True

    @property
    def mark(self) -> str:
        return "…" if not self.answered else "✓" if self.correct else "✗"

    def __str__(self) -> str:
        return f"{self.mark} {pick(self.zh, self.en, sep=chr(10) + '  ')}"

    def __bool__(self) -> bool:
        return self.correct

    def _repr_html_(self) -> str:
        colour = "#666" if not self.answered else "#1b7f3b" if self.correct else "#b00020"
        body = fold(html.escape(self.zh), html.escape(self.en))
        return f"<div style='color:{colour}'><b>{self.mark}</b> {body}</div>"


NOT_ANSWERED = Feedback(False, "还没有回答：把 answer = None 改成你的答案，再运行这一格。",
                        "Not answered yet: change answer = None to your answer and run this cell again.",
                        answered=False)


@dataclass(frozen=True)
class Reveal:
    """The answer of an exercise, with the explanation in Chinese and English."""

    answer: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{pick('答案', 'answer')}: {self.answer}\n{pick(self.zh, self.en, sep=chr(10))}"

    def _repr_html_(self) -> str:
        answer = f"<pre style='margin:4px 0'>{html.escape(self.answer)}</pre>" if "\n" in self.answer \
            else f"<code>{html.escape(self.answer)}</code>"
        return (f"<div><b>{pick('答案', 'answer')}:</b> {answer}"
                f"{fold(html.escape(self.zh), html.escape(self.en))}</div>")


class _UnreadableError(Exception):
    pass


class Exercise:
    """One exercise: ``prompt(lang)``, ``check(answer) -> Feedback``, ``reveal() -> Reveal``.

    Args:
        key: The block key it belongs to.
        kind: 'int', 'float', 'shape' (a tensor shape), 'sizes' (a list of ints) or 'choice'.
        zh, en: The question.
        solve: Computes the answer from the package (called once, lazily).
        explain_zh, explain_en: Why; ``{answer}`` is replaced by the answer.
        hints: Typical wrong answers with their own feedback.
        choices: The options of a 'choice' exercise.
        tol: Absolute tolerance of a 'float' answer.
        axes: Names of the axes of a 'shape' answer (used in feedback).
        nudge_zh, nudge_en: A general hint added to 'too small/too large' feedback.
    """

    def __init__(self, key: str, kind: str, zh: str, en: str, solve: Callable[[], Any], explain_zh: str,
                 explain_en: str, *, hints: Sequence[Hint] = (), choices: Sequence[Choice] = (), tol: float = 0.0,
                 axes: Sequence[str] = (), nudge_zh: str = "", nudge_en: str = ""):
        if kind not in KINDS:
            raise value_error("Exercise", f"kind must be one of {KINDS}", {"kind": kind})
        self.key, self.kind, self.zh, self.en = key, kind, zh, en
        self._solve = solve
        self.explain_zh, self.explain_en = explain_zh, explain_en
        self.hints, self.choices = tuple(hints), tuple(choices)
        self.tol, self.axes = tol, tuple(axes)
        self.nudge_zh, self.nudge_en = nudge_zh, nudge_en
        self.n = 0  # set when the exercise is put in EXERCISES

    @functools.cached_property
    def answer(self) -> Any:
        """The right answer, computed from the package."""
        return self._solve()

    # ------------------------------------------------------------------ display
    def prompt(self, lang: str = "both") -> str:
        """The question in 'zh', 'en' or 'both', with the options of a choice exercise."""
        if lang not in ("zh", "en", "both"):
            raise value_error("Exercise.prompt", "lang must be 'zh', 'en' or 'both'", {"lang": lang})
        parts = []
        if lang in ("zh", "both"):
            parts.append(self.zh + "".join(f"\n  ({c.letter}) {c.zh}" for c in self.choices))
        if lang in ("en", "both"):
            parts.append(self.en + "".join(f"\n  ({c.letter}) {c.en}" for c in self.choices))
        return "\n\n".join(parts)

    def __str__(self) -> str:
        return f"[{self.key} #{self.n}] " + self.prompt()

    def __repr__(self) -> str:
        return f"<Exercise {self.key} #{self.n} ({self.kind})>"

    def _repr_html_(self) -> str:
        def block(text: str, options: list[str]) -> str:
            items = "".join(f"<li>{html.escape(o)}</li>" for o in options)
            return f"<p>{html.escape(text)}</p>" + (f"<ul style='list-style:none'>{items}</ul>" if items else "")

        return (f"<div><b>{pick('练习', 'exercise')} {self.n}</b>"
                + fold(block(self.zh, [f"({c.letter}) {c.zh}" for c in self.choices]),
                       block(self.en, [f"({c.letter}) {c.en}" for c in self.choices])) + "</div>")

    # ------------------------------------------------------------------ answers
    def format(self, value: Any) -> str:
        """An answer as text: '31', '0.475', '(1, 8, 1024, 256)', '[64, 32, 16, 8]' or 'b'."""
        if self.kind == "float":
            return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.1f}"
        if self.kind == "shape":
            return "(" + ", ".join(str(v) for v in value) + ")"
        if self.kind == "sizes":
            return "[" + ", ".join(str(v) for v in value) + "]"
        return str(value)

    def reveal(self) -> Reveal:
        """The answer and why."""
        text = self.format(self.answer)
        return Reveal(text, self.explain_zh.format(answer=text), self.explain_en.format(answer=text))

    def _parse(self, value: Any) -> Any:
        try:
            if self.kind == "choice":
                letter = str(value).strip().strip("()").strip().lower()[:1]
                if not letter:
                    raise _UnreadableError
                return letter
            if self.kind in ("shape", "sizes"):
                if isinstance(value, str):
                    numbers = re.findall(r"-?\d+", value)
                    if not numbers:
                        raise _UnreadableError
                    return tuple(int(v) for v in numbers)
                return tuple(int(v) for v in value)
            if isinstance(value, bool):
                raise _UnreadableError
            number = float(value)
            if self.kind == "int":
                if number != int(number):
                    raise _UnreadableError
                return int(number)
            return number
        except (TypeError, ValueError):
            raise _UnreadableError from None

    def _same(self, a: Any, b: Any) -> bool:
        if self.kind == "float":
            return abs(a - b) <= self.tol
        if self.kind in ("shape", "sizes"):
            return tuple(a) == tuple(b)
        return a == b

    def check(self, answer: Any) -> Feedback:
        """Checks an answer; the feedback says what is off but never states the answer (None: not answered yet)."""
        if answer is None:
            return NOT_ANSWERED
        try:
            value = self._parse(answer)
        except _UnreadableError:
            return Feedback(False, _FORMAT_ZH[self.kind], _FORMAT_EN[self.kind])
        if self._same(value, self.answer):
            return Feedback(True, "正确！想知道为什么，运行 ex.reveal()。", "Correct! Run ex.reveal() for the why.")
        for hint in self.hints:
            if self._same(value, self._parse(hint.wrong)):
                return Feedback(False, hint.zh, hint.en)
        if self.kind == "choice":
            return self._choice_feedback(value)
        if self.kind in ("shape", "sizes"):
            return self._shape_feedback(value)
        low = value < self.answer
        zh = ("偏小。" if low else "偏大。") + self.nudge_zh
        en = ("Too small. " if low else "Too large. ") + self.nudge_en
        return Feedback(False, zh.strip(), en.strip())

    def _choice_feedback(self, letter: str) -> Feedback:
        for c in self.choices:
            if c.letter == letter:
                return Feedback(False, c.why_zh or "不是这个，再想想。", c.why_en or "Not this one; think again.")
        options = ", ".join(c.letter for c in self.choices)
        return Feedback(False, f"请从这些选项中选一个：{options}。", f"Pick one of the options: {options}.")

    def _shape_feedback(self, value: tuple[int, ...]) -> Feedback:
        answer = tuple(self.answer)
        noun_zh, noun_en = ("维", "axes") if self.kind == "shape" else ("个数", "entries")
        if len(value) != len(answer):
            more = len(value) < len(answer)
            return Feedback(False, f"{noun_zh}数不对：你给了 {len(value)} 个，实际{'更多' if more else '更少'}。"
                            + self.nudge_zh,
                            f"Wrong number of {noun_en}: you gave {len(value)}, the right answer has "
                            f"{'more' if more else 'fewer'}. " + self.nudge_en)
        wrong_zh, wrong_en = [], []
        for i, (v, a) in enumerate(zip(value, answer)):
            if v != a:
                name = self.axes[i] if i < len(self.axes) else f"#{i}"
                wrong_zh.append(f"第 {i} 项（{name}）{'偏小' if v < a else '偏大'}")
                wrong_en.append(f"entry {i} ({name}) is too {'small' if v < a else 'large'}")
        return Feedback(False, f"{noun_zh}数对了，但" + "，".join(wrong_zh) + "。" + self.nudge_zh,
                        f"Right number of {noun_en}, but " + ", ".join(wrong_en) + ". " + self.nudge_en)


_FORMAT_ZH = {"int": "请回答一个整数。", "float": "请回答一个数，例如 0.5。", "shape": "请回答一个形状，例如 (2, 3, "
"4)。",
              "sizes": "请回答一组整数，例如 [5, 6, 7]。", "choice": "请回答选项字母，例如 'a'。"}
_FORMAT_EN = {"int": "Please answer with a whole number.", "float": "Please answer with a number, e.g. 0.5.",
              "shape": "Please answer with a shape, e.g. (2, 3, 4).", "sizes": "Please answer with a list of ints, "
              "e.g. [5, 6, 7].", "choice": "Please answer with the option's letter, e.g. 'a'."}


class CodeExercise:
    """An exercise answered with code: the student writes a class, a function or a module, a check runs it.

    ``check(answer)`` calls ``judge(answer) -> Feedback`` (None: not answered yet; an exception the
    student's code raises becomes feedback, never a traceback); ``reveal()`` shows a solution, written
    for the course, and why it works.

    Args:
        key: The block key it belongs to.
        zh, en: The task.
        judge: Runs the student's answer and says what is right or off, without giving the solution.
        solution: Code of one solution (shown by `reveal`).
        explain_zh, explain_en: Why the solution works.
    """

    kind = "code"

    def __init__(self, key: str, zh: str, en: str, judge: Callable[[Any], Feedback], solution: str,
                 explain_zh: str, explain_en: str):
        self.key, self.zh, self.en = key, zh, en
        self._judge = judge
        self.solution = solution
        self.explain_zh, self.explain_en = explain_zh, explain_en
        self.n = 0

    def prompt(self, lang: str | None = None) -> str:
        return pick(self.zh, self.en, lang, "\n\n")

    def __repr__(self) -> str:
        return f"<CodeExercise {self.key} #{self.n}>"

    def _repr_html_(self) -> str:
        return (f"<div><b>{pick('练习', 'exercise')} {self.n} · {pick('写代码', 'code')}</b>"
                + fold(f"<p>{html.escape(self.zh)}</p>", f"<p>{html.escape(self.en)}</p>") + "</div>")

    def check(self, answer: Any) -> Feedback:
        """Runs the student's code through the judge; None means not answered yet."""
        if answer is None:
            return NOT_ANSWERED
        try:
            return self._judge(answer)
        except Exception as e:  # noqa: BLE001 - the student's code failed: say so, no traceback
            return Feedback(False, f"运行你的代码时出错：{type(e).__name__}: {e}",
                            f"Your code raised {type(e).__name__}: {e}")

    def reveal(self) -> Reveal:
        """One solution and why it works."""
        return Reveal(self.solution.strip(), self.explain_zh, self.explain_en)
