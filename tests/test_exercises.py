"""Exercises: right answers pass, typical wrong ones get their hint, feedback never gives the answer away."""

import math
import re

import pytest

from fusion_edu.blocks import BLOCKS, reduced_size
from fusion_edu.learn.exercises import EXERCISES, exercise
from fusion_edu.learn.feedback import Exercise, Feedback

ALL = [ex for items in EXERCISES.values() for ex in items if isinstance(ex, Exercise)]  # CodeExercise: own tests
IDS = [f"{ex.key}-{ex.n}" for ex in ALL]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _mentions(text: str, answer_text: str) -> bool:
    """Whether `answer_text` appears as a standalone token (not inside a longer number)."""
    return re.search(rf"(?<![\w.]){re.escape(answer_text)}(?![\w]|\.\d)", text) is not None


def _wrong_answers(ex: Exercise) -> list:
    """Typical wrong answers: the declared hints, the other options, near misses and a wrong rank."""
    wrong = [h.wrong for h in ex.hints]
    if ex.kind == "choice":
        wrong += [c.letter for c in ex.choices if c.letter != ex.answer] + ["z"]
    elif ex.kind in ("shape", "sizes"):
        a = tuple(ex.answer)
        wrong += [a[:-1], a + (1,), (a[0] + 1,) + a[1:], a[:-1] + (a[-1] * 2,)]
    elif ex.kind == "int":
        wrong += [ex.answer - 1, ex.answer + 1, 0, ex.answer * 2]
    else:
        step = max(ex.tol * 3, abs(ex.answer) * 0.5, 0.01)
        wrong += [ex.answer - step, ex.answer + step]
    return wrong


def test_every_block_has_at_least_three_exercises():
    assert set(EXERCISES) == set(BLOCKS)
    for key, items in EXERCISES.items():
        assert len(items) >= 3, key
        assert [ex.n for ex in items] == list(range(1, len(items) + 1))


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_prompt_is_bilingual(ex):
    assert CJK.search(ex.prompt("zh")) and not CJK.search(ex.prompt("en"))
    assert ex.prompt("zh") in ex.prompt("both") and ex.prompt("en") in ex.prompt("both")
    for c in ex.choices:
        assert c.zh in ex.prompt("zh") and c.en in ex.prompt("en")
    assert "<" in ex._repr_html_() and ex.key in str(ex)


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_right_answer_passes_in_every_form(ex):
    assert ex.check(ex.answer).correct
    assert ex.check(ex.format(ex.answer)).correct  # as typed text
    if ex.kind in ("shape", "sizes"):
        assert ex.check(list(ex.answer)).correct
    if ex.kind == "choice":
        assert ex.check(f" ({ex.answer.upper()}) ").correct


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_typical_wrong_answers_get_their_hint(ex):
    for hint in ex.hints:
        feedback = ex.check(hint.wrong)
        assert not feedback.correct
        assert (feedback.zh, feedback.en) == (hint.zh, hint.en)
    for c in ex.choices:
        if c.letter != ex.answer and c.why_en:
            assert ex.check(c.letter).en == c.why_en


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_feedback_never_contains_the_answer(ex):
    answer_text = ex.format(ex.answer)
    right = next((c for c in ex.choices if c.letter == ex.answer), None)
    for wrong in _wrong_answers(ex):
        feedback = ex.check(wrong)
        assert isinstance(feedback, Feedback) and not feedback.correct, wrong
        for text in (feedback.zh, feedback.en, str(feedback), feedback._repr_html_()):
            if ex.kind == "choice":
                assert right.en not in text and right.zh not in text
                assert f"({ex.answer})" not in text
            else:
                assert not _mentions(text, answer_text), (wrong, text)


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_reveal_gives_answer_and_reason_in_both_languages(ex):
    shown = ex.reveal()
    assert shown.answer == ex.format(ex.answer)
    assert shown.answer in shown.zh and shown.answer in shown.en
    assert CJK.search(shown.zh) and not CJK.search(shown.en)
    assert shown.answer in str(shown) and shown.answer in shown._repr_html_()


@pytest.mark.parametrize("ex", [ex for ex in ALL if ex.kind in ("int", "float")],
                         ids=[i for ex, i in zip(ALL, IDS) if ex.kind in ("int", "float")])
def test_numbers_say_too_small_or_too_large(ex):
    known = {ex._parse(h.wrong) for h in ex.hints}
    step = 1 if ex.kind == "int" else max(ex.tol * 3, abs(ex.answer) * 0.5, 0.01)
    low, high = ex.answer - step, ex.answer + step
    if low not in known:
        feedback = ex.check(low)
        assert "Too small" in feedback.en and "偏小" in feedback.zh
    if high not in known:
        feedback = ex.check(high)
        assert "Too large" in feedback.en and "偏大" in feedback.zh


def test_shape_feedback_names_the_wrong_axis_and_the_rank():
    ex = next(ex for ex in ALL if ex.kind == "shape" and ex.axes)
    answer = tuple(ex.answer)
    feedback = ex.check(answer[:-1] + (answer[-1] + 1,))
    assert "Right number of axes" in feedback.en and ex.axes[-1] in feedback.en and "too large" in feedback.en
    assert "维数对了" in feedback.zh
    feedback = ex.check(answer[:-1])
    assert "Wrong number of axes" in feedback.en and "more" in feedback.en


def test_unreadable_answers_get_a_format_hint_not_an_exception():
    assert "whole number" in exercise("osra", 1).check("six").en
    assert "whole number" in exercise("osra", 1).check(5.5).en
    assert "shape" in next(ex for ex in ALL if ex.kind == "shape").check("no idea").en
    assert "letter" in exercise("msf", 3).check("").en
    assert "Pick one of the options" in exercise("msf", 3).check("q").en


def test_answers_match_known_values():
    """Computed answers against independently known facts (block_facts.md, the conv formula)."""
    assert exercise("osra", 1).answer == reduced_size(15, 3) == (15 + 2 * 3 - 6) // 3 + 1 == 6
    assert exercise("osra", 3).answer == pytest.approx(128.0)
    assert exercise("msf", 1).answer == pytest.approx(math.e / (math.e + 3), abs=1e-4)
    assert exercise("msf", 2).answer == pytest.approx(1 / (1 + 3 * math.e), abs=1e-4)
    assert exercise("msf", 4).answer == "a"
    assert exercise("mfe", 1).answer == 31 and exercise("mfe", 2).answer == 3 + 2 * (3 + 6 + 12)
    assert exercise("safm", 1).answer == 30 // 8 and exercise("safm", 2).answer == 2 ** 4
    assert exercise("gated_fusion", 1).answer == (2, 16, 16, 64)
    assert exercise("gated_fusion", 3).answer == pytest.approx(0.25, abs=0.02)
    assert exercise("gated_fusion", 4).answer == "b"
    assert exercise("msaa", 1).answer == 16 and exercise("msaa", 3).answer == 16
    assert exercise("cbam_joint", 1).answer == 64 + 49
    assert exercise("cbam_joint", 2).answer == 2 * (196 - 49) * 8
    assert exercise("cbam_joint", 3).answer == "a"


def test_exercise_lookup_errors():
    with pytest.raises(ValueError, match="exercise: key must be one of"):
        exercise("nope", 1)
    with pytest.raises(ValueError, match="n must be 1..5 for osra"):
        exercise("osra", 0)
    with pytest.raises(ValueError, match="Exercise: kind must be one of"):
        Exercise("osra", "text", "问", "q", lambda: 1, "", "")
