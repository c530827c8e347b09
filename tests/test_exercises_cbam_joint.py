"""The CBAM variant's code exercise (run a block built for 7x7 on 14x14 maps, with its own weights) and the
4x16 question: the judge accepts both solutions, names what is off in typical wrong answers, and the
question's answer agrees with what a real block does."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fusion_edu import ShapeError
from fusion_edu.blocks import CBAMBlock
from fusion_edu.learn import exercise

CODE = exercise("cbam_joint", 6)


def solutions() -> dict:
    namespace = {"torch": torch, "nn": nn, "F": F}
    exec(CODE.reveal().answer, namespace)
    return namespace


class Wrapper(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block


class PassThrough(Wrapper):
    def forward(self, x):
        return self.block(x)


class NoWayBack(Wrapper):
    def forward(self, x):
        return self.block(F.adaptive_avg_pool2d(x, (7, 7)))


class OneRow(Wrapper):
    """H*W = 49 but as 1 x 49: runs, positions misaligned."""

    def forward(self, x):
        out1, out2 = self.block(F.adaptive_avg_pool2d(x, (1, 49)))
        return F.interpolate(out1, size=x.shape[-2:]), F.interpolate(out2, size=x.shape[-2:])


class Reinitialised(Wrapper):
    def forward(self, x):
        self.block.init_weights()
        out1, out2 = self.block(F.adaptive_avg_pool2d(x, (7, 7)))
        return F.interpolate(out1, size=x.shape[-2:]), F.interpolate(out2, size=x.shape[-2:])


def test_both_solutions_pass():
    found = solutions()
    for answer in (found["adapt"], found["Pool7"]):
        feedback = CODE.check(answer)
        assert feedback.correct, feedback.en
        assert "2,931" in feedback.en  # block_facts: the note's example block has 2,931 parameters


def test_typical_wrong_answers_get_specific_hints():
    assert "still sees 14x14" in CODE.check(PassThrough).en
    assert "still 7x7" in CODE.check(NoWayBack).en
    assert "the 4x16 pitfall" in CODE.check(OneRow).en
    assert "weights changed" in CODE.check(Reinitialised).en
    assert "new CBAMBlock (HW=196)" in CODE.check(lambda block: CBAMBlock(64, reduction=8, kernel_size=7,
                                                                         HW=196)).en
    assert "never calls the block" in CODE.check(lambda block: nn.Identity()).en
    assert "no brackets" in CODE.check(solutions()["Pool7"](CBAMBlock(64, reduction=8, kernel_size=7, HW=49))).en


def test_none_is_not_answered_yet_and_errors_become_feedback():
    assert not CODE.check(None).answered
    feedback = CODE.check(lambda block: 1 / 0)
    assert not feedback.correct and "ZeroDivisionError" in feedback.en


def test_the_judge_leaves_the_global_random_state_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    CODE.check(solutions()["adapt"])
    assert torch.equal(torch.rand(3), expected)


def test_misplaced_position_is_what_a_real_block_does():
    """A block built for 8x8 whose joint MLP lights up one spatial output: fed 8x8 it lights (1, 7), fed 4x16
    (which it accepts) it lights (0, 15) -- the weights learned for (1, 7) land on (0, 15)."""
    block = CBAMBlock(1, reduction=1, kernel_size=1, HW=64)
    with torch.no_grad():
        block.MLP[0].weight.fill_(0.0)
        block.MLP[0].weight[0, 0] = 1.0  # hidden unit = the (positive) channel descriptor
        block.ChannelAttention.se[0].weight.fill_(1.0)
        block.ChannelAttention.se[2].weight.fill_(1.0)
        block.MLP[2].weight.fill_(0.0)
        block.MLP[2].weight[1 + 15] = 5.0  # spatial output number 15
    x8, x416 = torch.ones(1, 1, 8, 8), torch.ones(1, 1, 4, 16)
    lit8 = (block(x8)[1][0, 0] > 0.9).nonzero().tolist()
    lit416 = (block(x416)[1][0, 0] > 0.9).nonzero().tolist()
    assert lit8 == [[1, 7]] and lit416 == [[0, 15]]
    assert exercise("cbam_joint", 7).answer == tuple(lit8[0])


def test_size_keyword_refuses_4x16_with_the_same_state_dict():
    """What the notebook teaches next to the exercise: size=(8, 8) makes the check exact, weights unchanged."""
    loose = CBAMBlock(16, reduction=1, kernel_size=7, HW=64)
    exact = CBAMBlock(16, reduction=1, kernel_size=7, size=(8, 8))
    exact.load_state_dict(loose.state_dict())
    x = torch.randn(2, 16, 4, 16)
    assert [o.shape for o in loose(x)] == [x.shape, x.shape]  # silently accepted
    with pytest.raises(ShapeError, match=r"built for size=\(8, 8\)"):
        exact(x)
