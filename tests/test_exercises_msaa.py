"""MSAA's code exercise (a channel-only MSAA) and its parameter-count question: the judge accepts the
solution, names what is off in typical wrong answers, and never touches the notebook's random numbers."""

import torch
import torch.nn.functional as F
from torch import nn

from fusion_edu.blocks import MSAA
from fusion_edu.learn import exercise
from fusion_edu.learn.exercises import msaa as module

CODE = exercise("msaa", 7)


def params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def solution() -> type:
    namespace = {"torch": torch, "nn": nn, "F": F, "MSAA": MSAA}
    exec(CODE.reveal().answer, namespace)
    return namespace["ChannelOnlyMSAA"]


class FullMSAA(MSAA):
    """Overrides nothing that matters: still both paths."""


class SpatialOnlyMSAA(MSAA):
    def forward(self, x1, x2, x4, last=False):
        fc = self.fusion_conv
        f = fc.down(torch.cat([x1, x2, x4], dim=1))
        s = fc.conv_3x3(f) + fc.conv_5x5(f) + fc.conv_7x7(f)
        return fc.up(s * fc.spatial_attention(s))


class NoUpMSAA(MSAA):
    def forward(self, x1, x2, x4, last=False):
        fc = self.fusion_conv
        f = fc.down(torch.cat([x1, x2, x4], dim=1))
        return f * fc.channel_attention(f)


class UngatedMSAA(MSAA):
    def forward(self, x1, x2, x4, last=False):
        fc = self.fusion_conv
        return fc.up(fc.down(torch.cat([x1, x2, x4], dim=1)))


class SlimChannelOnly(MSAA):
    """The right computation, with the layers it does not use deleted."""

    def __init__(self, in_channels, out_channels):
        super().__init__(in_channels, out_channels)
        for name in ("conv_3x3", "conv_5x5", "conv_7x7", "spatial_attention", "down_2"):
            delattr(self.fusion_conv, name)

    def forward(self, x1, x2, x4, last=False):
        fc = self.fusion_conv
        f = fc.down(torch.cat([x1, x2, x4], dim=1))
        return fc.up(f * fc.channel_attention(f))


def test_the_solution_passes_and_reports_the_parameters_it_uses():
    feedback = CODE.check(solution())
    assert feedback.correct and feedback.answered
    assert "26,226" in feedback.en and "3,024" in feedback.en  # block_facts: MSAA(112, 64) has 26,226


def test_a_slim_version_passes_too():
    feedback = CODE.check(SlimChannelOnly)
    assert feedback.correct and "removed every layer" in feedback.en


def test_typical_wrong_answers_get_specific_hints():
    assert "still the full MSAA" in CODE.check(FullMSAA).en
    assert "spatial path alone" in CODE.check(SpatialOnlyMSAA).en
    assert "only D channels" in CODE.check(NoUpMSAA).en
    assert "not multiplied by the channel gate" in CODE.check(UngatedMSAA).en
    instance = CODE.check(solution()(112, 64))
    assert not instance.correct and "class itself" in instance.en
    for wrong in (FullMSAA, SpatialOnlyMSAA, NoUpMSAA):
        assert "up(f * fc.channel_attention(f))" not in CODE.check(wrong).en  # never the solution


def test_new_layers_and_broken_code_are_named_not_raised():
    class Extra(MSAA):
        def __init__(self, in_channels, out_channels):
            super().__init__(in_channels, out_channels)
            self.gate = nn.Conv2d(out_channels, out_channels, 1)

        def forward(self, x1, x2, x4, last=False):
            return self.gate(super().forward(x1, x2, x4))

    assert "gate.weight" in CODE.check(Extra).en

    class Broken(MSAA):
        def forward(self, x1, x2, x4, last=False):
            return self.fusion_conv.up(torch.cat([x1, x2, x4], dim=1))

    feedback = CODE.check(Broken)
    assert not feedback.correct and feedback.en.startswith("Your code raised RuntimeError")


def test_none_is_not_answered_yet():
    feedback = CODE.check(None)
    assert not feedback.answered and not feedback.correct


def test_the_judge_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CODE.check(solution())
    assert torch.equal(torch.rand(3), expected)


def test_spatial_path_count_matches_the_formula_and_the_block():
    D = 64 // 4
    formula = D * D * (9 + 25 + 49) + 3 * D + 2 * 7 * 7  # three full convs with biases + the gate's 2->1 conv
    block = MSAA(112, 64)
    assert exercise("msaa", 6).answer == formula == 21_394
    channel_path = sum(params(getattr(block.fusion_conv, n)) for n in ("down", "channel_attention", "up"))
    assert formula + channel_path + params(block.fusion_conv.down_2) == params(block) == 26_226
    assert module._channel_path_params() == channel_path == 3_024
    assert "21,394" in CODE.explain_en and "3,024" in CODE.explain_en and "26,226" in CODE.explain_zh


def test_the_library_variant_passes_and_the_feedback_names_the_idle_layers():
    from fusion_edu import remix

    feedback = CODE.check(remix.MSAAChannelOnly)  # spatial path removed, down_2 kept
    assert feedback.correct and "(down_2)" in feedback.en
    assert "conv_3x3, conv_5x5, conv_7x7, spatial_attention, down_2" in CODE.check(solution()).en
