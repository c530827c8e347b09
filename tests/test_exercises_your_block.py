"""Notebook 09's exercises (fusion_edu.learn.exercises.your_block): the answers hold in the package, right answers
pass, typical wrong ones get a hint that points the right way without the answer, and None is "not answered yet"."""

import pytest
import torch
from torch import nn

from fusion_edu import autotrace, compare
from fusion_edu.blocks import SAFM
from fusion_edu.learn.exercises import EXERCISES
from fusion_edu.learn.exercises import your_block as yb


class StrideTwo3x3(nn.Module):
    """The first try most people write: 3x3, stride 2, padding 1 (rounds odd sizes up)."""

    def __init__(self, C: int):
        super().__init__()
        self.conv = nn.Conv2d(C, 2 * C, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class SameChannels(nn.Module):
    """Halves H and W but keeps C."""

    def __init__(self, C: int):
        super().__init__()
        self.conv = nn.Conv2d(C, C, 2, stride=2)

    def forward(self, x):
        return self.conv(x)


class PoolThenMix(nn.Module):
    """Another right answer: 2x2 max pooling, then a 1x1 conv from C to 2C."""

    def __init__(self, C: int):
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.mix = nn.Conv2d(C, 2 * C, 1)

    def forward(self, x):
        return self.mix(self.pool(x))


class Unshuffle(nn.Module):
    """Right shape for even sizes only: PixelUnshuffle rejects odd H and W."""

    def __init__(self, C: int):
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(2)
        self.mix = nn.Conv2d(4 * C, 2 * C, 1)

    def forward(self, x):
        return self.mix(self.unshuffle(x))


class NamedDim(nn.Module):
    """A right block whose channel parameter is not named C."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, 2 * dim, 2, stride=2)

    def forward(self, x):
        return self.conv(x)


def test_exercises_are_numbered_and_separate_from_the_block_catalog():
    assert [ex.n for ex in yb.EXERCISES] == [1, 2, 3]
    assert [getattr(ex, "kind", "") for ex in yb.EXERCISES] == ["int", "int", "code"]
    assert "your_block" not in EXERCISES
    with pytest.raises(ValueError, match=r"your_block.exercise: n must be 1..3; got n=4"):
        yb.exercise(4)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_none_is_not_answered_yet(n):
    feedback = yb.exercise(n).check(None)
    assert not feedback.answered and not feedback.correct


def test_stitch_cost_is_safms_own_parameters_and_wrong_counts_get_their_hint():
    ex = yb.exercise(1)
    assert ex.answer == sum(p.numel() for p in SAFM(128).parameters()) == 4 * (32 * 9 + 32) + 128 * 128 + 128
    assert ex.check(17_792).correct
    only_aggr = ex.check(16_512)
    assert not only_aggr.correct and "depthwise" in only_aggr.en and "17" not in only_aggr.en
    with_adapters = ex.check(17_792 + 2 * (128 * 128 + 128))
    assert not with_adapters.correct and "no 1x1 adapter" in with_adapters.en
    assert ex.check(1_000).en.startswith("Too small.")


def test_compare_step_is_the_activation_and_wrong_steps_get_their_hint():
    ex = yb.exercise(2)
    x = torch.randn(1, 16, 32, 32)
    report = compare(yb._ReLUSAFM(16), SAFM(16), x, lang="en")
    assert ex.answer == report.first_difference.index == 17
    assert "GELU" in report.first_difference.reference.en and "ReLU" in report.first_difference.candidate.en
    assert ex.check(17).correct
    assert "aggr" in ex.check(16).en and "activation" in ex.check(18).en


@pytest.mark.parametrize("answer", [PoolThenMix, lambda C: PoolThenMix(C), "solution"])
def test_downsampler_right_answers_pass(answer):
    if answer == "solution":  # the revealed solution is code a student can paste
        names = {"nn": nn}
        exec(yb.exercise(3).reveal().answer, names)
        answer = names["Down"]
    feedback = yb.exercise(3).check(answer)
    assert feedback.correct and yb.TARGET_SPEC in feedback.en
    assert autotrace(answer, torch.randn(1, 4, 9, 9)).output_shapes == [(1, 8, 4, 4)]  # odd sizes round down


def test_downsampler_typical_wrong_answers_get_specific_hints_without_the_solution():
    ex = yb.exercise(3)
    rounded_up = ex.check(StrideTwo3x3)
    assert not rounded_up.correct and "(H+1)//2" in rounded_up.en and "odd" in rounded_up.en
    same = ex.check(SameChannels)
    assert not same.correct and "the channels are C; the target is 2*C" in same.en
    built = ex.check(PoolThenMix(8))
    assert not built.correct and "built module" in built.en
    assert ex.check(NamedDim).correct  # autotrace passes C to the first parameter, whatever its name
    even_only = ex.check(Unshuffle)
    assert not even_only.correct and "15x15 input fails" in even_only.en and "rounds down" in even_only.en
    for feedback in (rounded_up, same, built, even_only):
        assert "kernel_size=2" not in feedback.en and "PixelUnshuffle" not in feedback.en


def test_a_student_error_becomes_feedback():
    class Broken(nn.Module):
        def __init__(self, C: int):
            super().__init__()
            self.conv = nn.Conv2d(2 * C, 2 * C, 2, stride=2)  # expects twice the channels it gets

        def forward(self, x):
            return self.conv(x)

    feedback = yb.exercise(3).check(Broken)
    assert not feedback.correct and feedback.en.startswith("autotrace cannot run your module")
