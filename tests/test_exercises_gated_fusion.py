"""Gated fusion's code exercises: the judges run the student's code and point at what is off, never at the solution.

Exercise 5: an NCHW adapter around the channels-last block. Exercise 6: fold the note's two gate biases
into one (GMAN's form).
"""

import pytest
import torch
from torch import nn

from fusion_edu.blocks import GatedFusion
from fusion_edu.learn import exercise
from fusion_edu.learn.feedback import CodeExercise

ADAPTER, ONE_BIAS = exercise("gated_fusion", 5), exercise("gated_fusion", 6)


def solution(ex: CodeExercise, name: str):
    """The object the revealed solution defines (run as a student would paste it)."""
    namespace = {"torch": torch, "nn": nn, "GatedFusion": GatedFusion}
    exec(ex.solution, namespace)
    return namespace[name]


class _Adapter(nn.Module):
    """Base of the typical wrong adapters: the note's block inside, forward to be overridden."""

    def __init__(self, dim):
        super().__init__()
        self.fuse = GatedFusion(dim)


class NoPermute(_Adapter):
    def forward(self, x1, x2):
        return self.fuse(x1, x2)


class NoPermuteBack(_Adapter):
    def forward(self, x1, x2):
        return self.fuse(x1.permute(0, 2, 3, 1), x2.permute(0, 2, 3, 1))


class WrongPermuteBack(_Adapter):
    def forward(self, x1, x2):
        return self.fuse(x1.permute(0, 2, 3, 1), x2.permute(0, 2, 3, 1)).permute(0, 3, 2, 1)


class SwappedHW(_Adapter):
    """(B, W, H, C) in and the same permutation back: also correct, since (0, 3, 2, 1) undoes itself."""

    def forward(self, x1, x2):
        return self.fuse(x1.permute(0, 3, 2, 1), x2.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)


class Shortcut(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fuse = GatedFusion(dim, layout="nchw")

    def forward(self, x1, x2):
        return self.fuse(x1, x2)


class OwnLinear(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x1, x2):
        return x1


def test_code_exercises_say_not_answered_for_none():
    for ex in (ADAPTER, ONE_BIAS):
        feedback = ex.check(None)
        assert not feedback.answered and not feedback.correct
        assert "answer = None" in feedback.en


def test_the_revealed_adapter_passes_and_so_does_a_class_or_an_instance():
    right = solution(ADAPTER, "MyNCHWGate")
    assert ADAPTER.check(right).correct
    assert ADAPTER.check(right(12)).correct  # a built instance is judged at its own dim
    assert ADAPTER.check(SwappedHW).correct


def test_an_adapter_without_permute_is_caught_on_the_silent_w_equals_c_input():
    feedback = ADAPTER.check(NoPermute)
    assert not feedback.correct
    assert "changing one pixel of x1 changes 8 output pixels" in feedback.en
    assert "last axis" in feedback.en and "最后一维" in feedback.zh


@pytest.mark.parametrize("wrong, expected", [
    (NoPermuteBack, "is still channels-last"),
    (WrongPermuteBack, "H and W swapped"),
    (Shortcut, "ready-made shortcut"),
    (OwnLinear, "build a GatedFusion(dim)"),
    (3, "must be your class itself"),
])
def test_typical_wrong_adapters_get_their_own_hint(wrong, expected):
    feedback = ADAPTER.check(wrong)
    assert not feedback.correct and expected in feedback.en


def test_an_adapter_that_crashes_gives_feedback_not_a_traceback():
    class Crashes(_Adapter):
        def forward(self, x1, x2):
            return self.fuse(x1.permute(0, 2, 3, 1), x2)  # only one input rearranged

    feedback = ADAPTER.check(Crashes)
    assert not feedback.correct and "raised ShapeError" in feedback.en and "same shape" in feedback.en


def _new_block(block, *, fc1_bias=False, fc2_bias=None):
    """A copy of `block` with fc1's bias removed (or kept) and fc2's bias set to `fc2_bias`."""
    new = GatedFusion(block.dim)
    new.load_state_dict(block.state_dict())
    with torch.no_grad():
        if fc2_bias is not None:
            new.fc2.bias.copy_(fc2_bias(block))
        if fc1_bias is False:
            weight = new.fc1.weight.clone()
            new.fc1 = nn.Linear(block.dim, block.dim, bias=False)
            new.fc1.weight.copy_(weight)
        else:
            new.fc1.bias.zero_()
    return new


def test_the_revealed_one_bias_passes():
    assert ONE_BIAS.check(solution(ONE_BIAS, "one_bias")).correct


def test_dropping_the_first_bias_changes_the_output_and_says_where_to_look():
    feedback = ONE_BIAS.check(lambda block: _new_block(block))
    assert not feedback.correct and "the weights match but the outputs do not" in feedback.en.lower()


def test_zeroing_the_bias_instead_of_removing_it_is_not_enough():
    folded = lambda block: _new_block(block, fc1_bias=True, fc2_bias=lambda b: b.fc1.bias + b.fc2.bias)  # noqa: E731
    feedback = ONE_BIAS.check(folded)
    assert not feedback.correct and "zeroing it is not enough" in feedback.en


@pytest.mark.parametrize("wrong, expected", [
    (lambda block: GatedFusion(block.dim), "fc1's weight is not the original's"),
    (lambda block: block, "changed the block it was given"),
    (lambda block: None, "it returned NoneType"),
    (GatedFusion(4), "must be your function itself"),
])
def test_typical_wrong_one_bias_answers_get_their_own_hint(wrong, expected):
    feedback = ONE_BIAS.check(wrong)
    assert not feedback.correct and expected in feedback.en


def test_an_in_place_fold_is_caught():
    def in_place(block):
        with torch.no_grad():
            block.fc2.bias += block.fc1.bias
        block.fc1 = nn.Linear(block.dim, block.dim, bias=False)
        return block

    assert "changed the block it was given" in ONE_BIAS.check(in_place).en


def test_feedback_never_shows_the_solution():
    wrong = [NoPermute, NoPermuteBack, WrongPermuteBack, Shortcut, OwnLinear, 3]
    texts = [ADAPTER.check(w) for w in wrong]
    texts += [ONE_BIAS.check(w) for w in (lambda b: _new_block(b), lambda b: GatedFusion(b.dim), lambda b: b)]
    for feedback in texts:
        for text in (feedback.zh, feedback.en):
            assert "permute(0, 3, 1, 2)" not in text and "permute(0, 2, 3, 1)" not in text
            assert "b1 + b2" not in text and "fc1.bias +" not in text


def test_judging_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ADAPTER.check(solution(ADAPTER, "MyNCHWGate"))
    ONE_BIAS.check(solution(ONE_BIAS, "one_bias"))
    assert torch.equal(torch.rand(3), expected)


def test_reveal_shows_code_and_the_reason_in_both_languages():
    for ex, name in ((ADAPTER, "class MyNCHWGate"), (ONE_BIAS, "def one_bias")):
        shown = ex.reveal()
        assert name in shown.answer and shown.zh and shown.en
