"""OSRA's code exercises: the solution passes, typical wrong answers get their own hint, None is not answered yet."""

import functools
import math

import pytest
import torch
from torch import nn

from fusion_edu.blocks import OSRAttention, reduced_size
from fusion_edu.learn.exercises import EXERCISES, exercise
from fusion_edu.learn.exercises.common import params
from fusion_edu.learn.exercises.osra import sr_sides

H_PRIME, GELU = exercise("osra", 2), exercise("osra", 4)


def solved(ex):
    """The object the revealed solution assigns to `answer` (the solution is run as a student would paste it)."""
    scope = {}
    exec(ex.solution, scope)
    return scope["answer"]


def test_the_lessons_exercises_in_order():
    assert [ex.kind for ex in EXERCISES["osra"]] == ["int", "code", "float", "code", "choice"]
    # block_facts: the head count does not change the parameter count (15,040 at C = 64)
    assert params(OSRAttention(64, num_heads=4)) == params(OSRAttention(64)) == 15_040
    assert exercise("osra", 5).answer == "b"


def test_the_judge_checks_against_the_block():
    """The H' the judge holds is the trace's H', and the conv formula (even r: ceil(H/r); odd r: H//r + 1)."""
    from fusion_edu import trace

    sides = sr_sides()
    assert len(sides) == 35 * 8
    for (H, r), side in sides.items():
        assert side == reduced_size(H, r) == (H if r == 1 else math.ceil(H / r) if r % 2 == 0 else H // r + 1)
    assert trace(OSRAttention(8, num_heads=1, sr_ratio=3).eval(), torch.zeros(1, 8, 15, 15)).symbols["H'"] \
        == sides[(15, 3)] == 6


@pytest.mark.parametrize("ex", [H_PRIME, GELU], ids=["h_prime", "gelu"])
def test_none_is_not_answered_yet_and_the_solution_passes(ex):
    assert not ex.check(None).answered and not ex.check(None).correct
    feedback = ex.check(solved(ex))
    assert feedback.correct and feedback.answered, feedback.en
    assert ex.reveal().answer == ex.solution.strip() and "answer =" in ex.reveal().answer


def conv_formula_everywhere(H, r):
    return (H + 2 * ((r + 3) // 2) - (r + 3)) // r + 1


@pytest.mark.parametrize("answer, says", [
    (lambda H, r: math.ceil(H / r), "odd r are wrong"),        # the even-r rule used for every r
    (conv_formula_everywhere, "Only r = 1 is wrong"),          # forgets that sr is nn.Identity for r = 1
    (lambda H, r: H // r, "have misses"),
    (lambda H, r: H / r, "is an integer"),
    (lambda H: H, "raised TypeError"),
    (OSRAttention, "should be a function"),
])
def test_h_prime_typical_misses_get_their_hint(answer, says):
    feedback = H_PRIME.check(answer)
    assert not feedback.correct and says in feedback.en, feedback.en
    assert "(H + 2 * padding - kernel) // r + 1" not in feedback.en  # never the solution


def test_h_prime_hint_gives_one_counterexample_from_the_trace():
    feedback = H_PRIME.check(lambda H, r: math.ceil(H / r))
    assert "h_prime(3, 3) gives 1; the trace has 2" in feedback.en and "r = 1, 2, 4, 6, 8" in feedback.en


def test_gelu_by_the_packages_argument_passes_too():
    assert GELU.check(functools.partial(OSRAttention, act="gelu")).correct


class EverySr(OSRAttention):
    """Swaps sr.2 without looking at sr_ratio: fails when sr is nn.Identity."""

    def __init__(self, dim, num_heads=8, qk_scale=None, attn_drop=0, sr_ratio=2):
        super().__init__(dim, num_heads, qk_scale, attn_drop, sr_ratio)
        self.sr[2] = nn.GELU()


class Tanh(OSRAttention):
    def __init__(self, dim, num_heads=8, qk_scale=None, attn_drop=0, sr_ratio=2):
        super().__init__(dim, num_heads, qk_scale, attn_drop, sr_ratio)
        if sr_ratio > 1:
            self.sr[2] = nn.GELU(approximate="tanh")


class Learned(OSRAttention):
    """PReLU has a parameter: the state_dict gains a key."""

    def __init__(self, dim, num_heads=8, qk_scale=None, attn_drop=0, sr_ratio=2):
        super().__init__(dim, num_heads, qk_scale, attn_drop, sr_ratio)
        if sr_ratio > 1:
            self.sr[2] = nn.PReLU()


@pytest.mark.parametrize("answer, says", [
    (OSRAttention, "equals the note's ReLU version"),
    (EverySr, "nn.Identity"),
    (Tanh, "exact GELU"),
    (Learned, "state_dict does not load"),
    (lambda dim: OSRAttention(dim, act="gelu"), "must take OSRAttention's arguments"),
    (lambda dim, **kw: "a block", "should be an nn.Module"),
])
def test_gelu_typical_misses_get_their_hint(answer, says):
    feedback = GELU.check(answer)
    assert not feedback.correct and says in feedback.en, feedback.en
    assert "self.sr[2] = nn.GELU()" not in feedback.en + feedback.zh  # never the solution


def test_gelu_feedback_repeats():
    """The judge seeds its own weights: the same answer gets the same numbers every time."""
    assert GELU.check(solved(GELU)).en == GELU.check(solved(GELU)).en
