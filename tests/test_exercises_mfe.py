"""MFE's exercises: predict, then build and measure (a depthwise layer4, dilation rates for a 21 x 21 view)."""

import re

import pytest
import torch
from torch import nn

from fusion_edu.blocks import MFEBlock
from fusion_edu.learn import exercise
from fusion_edu.learn.feedback import CodeExercise
from fusion_edu.receptive_field import erf_theory

CJK = re.compile(r"[\u4e00-\u9fff]")


def _run(code: str) -> dict:
    namespace = {"torch": torch, "nn": nn, "MFEBlock": MFEBlock}
    exec(code, namespace)  # the solution that reveal() shows must itself pass
    return namespace


def _layer4(conv_kwargs: dict, layer: str = "layer4") -> type:
    class Changed(MFEBlock):
        def __init__(self, in_channels, atrous_rates):
            super().__init__(in_channels, atrous_rates)
            getattr(self, layer)[0] = nn.Conv2d(in_channels, in_channels, 3, bias=False,
                                                **{"groups": in_channels, **conv_kwargs})
    return Changed


def test_the_parameter_prediction_matches_block_facts():
    ex = exercise("mfe", 5)
    C = 64
    assert ex.answer == 41 * C**2 + 10 * C - 9 * C**2 + 9 * C == 132_288  # block_facts: 41C^2 + 10C = 168,576
    assert "original count" in ex.check(168_576).en
    assert "removes layer4's conv" in ex.check(131_712).en


@pytest.mark.parametrize("n", [6, 7])
def test_code_exercises_are_bilingual_and_start_unanswered(n):
    ex = exercise("mfe", n)
    assert isinstance(ex, CodeExercise)
    assert CJK.search(ex.zh) and not CJK.search(ex.en)
    assert not ex.check(None).answered


def test_depthwise_solution_is_judged_correct_and_measured():
    ex = exercise("mfe", 6)
    feedback = ex.check(_run(ex.solution)["MyMFE"])
    assert feedback.correct, feedback.en
    assert "168,576 to 132,288" in feedback.en  # the prediction of exercise 5, now measured
    assert "from 31 to 31" in feedback.en  # depthwise keeps the receptive field


def test_depthwise_solution_keeps_the_state_dict_names():
    MyMFE = _run(exercise("mfe", 6).solution)["MyMFE"]
    mine, plain = MyMFE(8, [2, 4, 8]), MFEBlock(8, [2, 4, 8])
    assert list(mine.state_dict()) == list(plain.state_dict())
    assert mine.layer4[0].weight.shape == (8, 1, 3, 3)


@pytest.mark.parametrize("wrong, words", [
    (_layer4({"groups": 1, "padding": 8, "dilation": 8}), "still a plain conv"),
    (_layer4({"groups": 2, "padding": 8, "dilation": 8}), "groups must equal the channel count"),
    (_layer4({"padding": 1, "dilation": 1}), "dilation changed"),
    (_layer4({"padding": 1, "dilation": 8}), "padding equals its dilation"),
    (_layer4({"padding": 4, "dilation": 4}, layer="layer3"), "still a plain conv"),
    (MFEBlock, "still a plain conv"),
])
def test_depthwise_mistakes_get_their_own_hint(wrong, words):
    feedback = exercise("mfe", 6).check(wrong)
    assert feedback.answered and not feedback.correct
    assert words in feedback.en, feedback.en
    assert "groups=in_channels" not in feedback.en + feedback.zh  # a hint, never the solution


def test_depthwise_wants_a_class():
    ex = exercise("mfe", 6)
    assert "class itself" in ex.check(MFEBlock(8, [2, 4, 8])).en
    assert "subclass of MFEBlock" in ex.check(nn.Conv2d).en


def test_rates_solution_and_other_right_rates_pass():
    ex = exercise("mfe", 7)
    assert ex.check(_run(ex.solution)["answer"]).correct
    for rates in ([1, 3, 5], [1, 2, 6]):
        assert 2 * erf_theory(rates)[-1] + 1 == 21  # radius 1 + 9 = 10
        assert ex.check(MFEBlock(8, rates)).correct, rates


@pytest.mark.parametrize("rates, words", [
    ([2, 4, 8], "31 px wide, over 21: lower"),
    ([1, 2, 3], "15 px wide, short of 21: raise"),
    ([5, 3, 1], "do not grow"),
    ([100, 200, 400], "far too large"),
])
def test_rates_mistakes_get_a_measured_hint(rates, words):
    feedback = exercise("mfe", 7).check(MFEBlock(4, rates))
    assert not feedback.correct and words in feedback.en, feedback.en


def test_rates_wants_a_built_block():
    ex = exercise("mfe", 7)
    assert "built block" in ex.check(MFEBlock).en
    assert "should be an MFEBlock" in ex.check([2, 3, 4]).en
