"""SAFM's code exercises: the solution passes, typical wrong answers get their own hint, None is not answered yet."""

import re

import pytest
import torch
import torch.nn.functional as F

from fusion_edu import trace
from fusion_edu.blocks import SAFM
from fusion_edu.learn.exercises import EXERCISES, exercise

COARSEST, BILINEAR = exercise("safm", 4), exercise("safm", 5)


def solved(ex):
    """The object the revealed solution assigns to `answer` (the solution is run as a student would paste it)."""
    scope = {}
    exec(ex.solution, scope)
    return scope["answer"]


def level_slice(first: int, last: int | None = None):
    """A student's coarsest_level that cuts channels [first:last] out of the trace's levels."""
    def cut(block, x):
        return trace(block, x, keep=True).tensors["levels"][:, first:last]
    return cut


class Upsampled(SAFM):
    """SAFM with another upsampling mode (a subclass a student might write)."""

    mode = "bicubic"
    align_corners = False
    levels = None  # None: n_levels, as it should be

    def forward(self, x):
        h, w = x.shape[-2:]
        xc = x.chunk(self.n_levels, dim=1)
        out = [self.mfr[0](xc[0])]
        for i in range(1, self.levels or self.n_levels):
            s = self.mfr[i](F.adaptive_max_pool2d(xc[i], (h // 2**i, w // 2**i)))
            out.append(F.interpolate(s, size=(h, w), mode=self.mode, align_corners=self.align_corners))
        return self.act(self.aggr(torch.cat(out, dim=1))) * x


def test_the_lessons_exercises_in_order():
    kinds = [ex.kind for ex in EXERCISES["safm"]]
    assert kinds == ["int", "int", "choice", "code", "code"]
    assert exercise("safm", 3).answer == "a"  # max pooling keeps extremes: the coarsest level spreads more


@pytest.mark.parametrize("ex", [COARSEST, BILINEAR], ids=["coarsest", "bilinear"])
def test_none_is_not_answered_yet_and_the_solution_passes(ex):
    assert not ex.check(None).answered and not ex.check(None).correct
    feedback = ex.check(solved(ex))
    assert feedback.correct and feedback.answered, feedback.en
    assert ex.reveal().answer == ex.solution.strip() and "answer =" in ex.reveal().answer


def test_coarsest_level_reports_the_measurement():
    feedback = COARSEST.check(solved(COARSEST))
    numbers = [float(v) for v in re.findall(r"(?:max|avg) pooling (\d+\.\d+)", feedback.en)]
    assert len(numbers) == 2, feedback.en
    assert numbers[0] > numbers[1] > 0  # the prediction exercise's answer, measured


def test_coarsest_level_accepts_the_map_before_upsampling():
    def before_upsampling(block, x):
        kept = []
        handle = block.mfr[-1].register_forward_hook(lambda m, i, out: kept.append(out))
        block(x)
        handle.remove()
        return kept[0]
    assert COARSEST.check(before_upsampling).correct


@pytest.mark.parametrize("answer, says", [
    (level_slice(0), "all 4 levels"),                 # every level, C channels
    (level_slice(12, 16), "do not hard-code"),        # right for SAFM(16, 4) only
    (level_slice(0, 4), "that is level 0"),           # the finest level
    (lambda block, x: block.mfr[-1](F.adaptive_max_pool2d(x.chunk(block.n_levels, 1)[-1],
                                                          [s // 2 ** (block.n_levels - 1) for s in x.shape[-2:]])),
     "use the block's own pooling"),                  # max pooling hard-coded: wrong for pool="avg"
    (lambda block, x: 3, "return a tensor"),
    (SAFM, "should be a function"),
])
def test_coarsest_level_typical_misses_get_their_hint(answer, says):
    feedback = COARSEST.check(answer)
    assert not feedback.correct and says in feedback.en, feedback.en
    assert "levels[:, -c:]" not in feedback.en + feedback.zh  # never the solution


def test_bilinear_accepts_either_align_corners():
    class Corners(Upsampled):
        mode = "bilinear"
        align_corners = True
    assert BILINEAR.check(Corners).correct


class FourLevels(Upsampled):
    """Bilinear, but with the level count written as 4: breaks SAFM(12, n_levels=3)."""

    mode = "bilinear"
    levels = 4


class ExtraParameter(SAFM):
    def __init__(self, dim, n_levels=4):
        super().__init__(dim, n_levels)
        self.smooth = torch.nn.Conv2d(dim, dim, 3, padding=1)


@pytest.mark.parametrize("answer, says", [
    (SAFM, "still nearest"),
    (Upsampled, "bicubic, not bilinear"),
    (ExtraParameter, "state_dict does not match"),
    (FourLevels, "raised IndexError"),
    (lambda dim, n_levels: "SAFM", "should be an nn.Module"),
])
def test_bilinear_typical_misses_get_their_hint(answer, says):
    feedback = BILINEAR.check(answer)
    assert not feedback.correct and says in feedback.en, feedback.en
    assert 'mode="bilinear", align_corners=False))' not in feedback.en + feedback.zh  # never the solution
