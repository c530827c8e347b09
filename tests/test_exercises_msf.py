"""MSF's exercises: the n-scale bound, and the plain-softmax MSF written as a subclass and judged by running it."""

import math
import re

import pytest
import torch
from torch import nn

from fusion_edu.blocks import MSFBlock, weight_bounds
from fusion_edu.learn import exercise
from fusion_edu.learn.feedback import CodeExercise

CJK = re.compile(r"[\u4e00-\u9fff]")


def _solution() -> type:
    ex = exercise("msf", 7)
    namespace = {"torch": torch, "nn": nn, "MSFBlock": MSFBlock}
    exec(ex.solution, namespace)  # the solution that reveal() shows must itself pass
    return namespace["MyMSF"]


def _scales(block: MSFBlock, xs: tuple[torch.Tensor, ...]) -> tuple[list[torch.Tensor], torch.Tensor]:
    ses = (block.SE1, block.SE2, block.SE3, block.SE4)
    return list(xs), torch.cat([se(block.gap(x)) for se, x in zip(ses, xs)], dim=2)


def _fuse(weight: torch.Tensor, xs: list[torch.Tensor]) -> torch.Tensor:
    return sum(weight[:, :, i].unsqueeze(2) * x for i, x in enumerate(xs))


class KeepsSigmoid(MSFBlock):
    def forward(self, *xs):
        xs, logits = _scales(self, xs)
        return self.project(_fuse(self.softmax(self.Sigmoid(logits)), xs))


class SoftmaxOverChannels(MSFBlock):
    def forward(self, *xs):
        xs, logits = _scales(self, xs)
        return self.project(_fuse(torch.softmax(logits, dim=1), xs))


class ForgetsProject(MSFBlock):
    def forward(self, *xs):
        xs, logits = _scales(self, xs)
        return _fuse(self.softmax(logits), xs)


class AddsResidual(MSFBlock):
    def forward(self, *xs):
        xs, logits = _scales(self, xs)
        return self.project(_fuse(self.softmax(logits), xs) + xs[0])


class OneSEForAll(MSFBlock):
    def forward(self, *xs):
        logits = torch.cat([self.SE1(self.gap(x)) for x in xs], dim=2)
        return self.project(_fuse(self.softmax(logits), list(xs)))


class UsesTheSwitch(MSFBlock):
    def __init__(self, in_channels):
        super().__init__(in_channels, weighting="softmax")


class RenamesALayer(MSFBlock):
    def __init__(self, in_channels):
        super().__init__(in_channels)
        self.SE5 = nn.Conv2d(in_channels, in_channels, 1)

    def forward(self, *xs):
        xs, logits = _scales(self, xs)
        return self.project(_fuse(self.softmax(logits), xs))


def test_the_n_scale_bound_exercise_matches_the_formula():
    ex = exercise("msf", 6)
    assert ex.answer == pytest.approx(weight_bounds(3)[1], abs=1e-4) == pytest.approx(math.e / (math.e + 2), abs=1e-4)
    assert ex.check(0.576).correct
    assert "4 scales" in ex.check(0.475).en and "2 scales" in ex.check(0.731).en  # the two other cases taught


def test_the_code_exercise_is_a_code_exercise_with_a_bilingual_prompt():
    ex = exercise("msf", 7)
    assert isinstance(ex, CodeExercise) and ex.kind == "code"
    assert CJK.search(ex.zh) and not CJK.search(ex.en)
    assert "MyMSF" in ex.zh and "load" in ex.en
    assert "class MyMSF(MSFBlock)" in ex.reveal().answer


def test_none_is_not_answered_yet():
    feedback = exercise("msf", 7).check(None)
    assert not feedback.answered and not feedback.correct and "Not answered yet" in feedback.en


def test_the_revealed_solution_is_judged_correct():
    feedback = exercise("msf", 7).check(_solution())
    assert feedback.correct, feedback.en
    assert "same output" in feedback.en and "相同" in feedback.zh


def test_the_solution_really_equals_the_plain_softmax_block():
    reference = MSFBlock(5, weighting="softmax").eval()
    mine = _solution()(5)
    mine.load_state_dict(reference.state_dict(), strict=True)
    xs = [torch.rand(2, 5, 4, 4) * (i + 1) for i in range(4)]
    torch.testing.assert_close(mine.eval()(*xs), reference(*xs))


@pytest.mark.parametrize("wrong, words", [
    (KeepsSigmoid, "sigmoid step is still there"),
    (SoftmaxOverChannels, "wrong axis"),
    (ForgetsProject, "project (1x1 conv + BN + ReLU) must still follow"),
    (AddsResidual, "extra residual"),
    (OneSEForAll, "its own SE_i"),
    (UsesTheSwitch, "weighting switch"),
    (RenamesALayer, "keys differ"),
])
def test_typical_mistakes_get_their_own_hint(wrong, words):
    feedback = exercise("msf", 7).check(wrong)
    assert feedback.answered and not feedback.correct
    assert words in feedback.en, feedback.en
    assert CJK.search(feedback.zh)
    assert "self.softmax(logits)" not in feedback.en + feedback.zh  # a hint, never the solution


def test_an_instance_or_a_crash_becomes_feedback_not_a_traceback():
    ex = exercise("msf", 7)
    assert "class itself" in ex.check(_solution()(4)).en

    class Crashes(MSFBlock):
        def forward(self, *xs):
            raise RuntimeError("boom")

    feedback = ex.check(Crashes)
    assert not feedback.correct and "RuntimeError: boom" in feedback.en
