"""Exercises for MSAA: questions with answers computed from the package, checks with hints."""

from __future__ import annotations

import torch

from ...blocks import (
    MSAA,
)
from ..feedback import Choice, Exercise, Hint
from .common import kept_shape


def _msaa_spatial_input_choice() -> str:
    """Which tensor reaches conv_3x3: compare the hooked tensors."""
    block = MSAA(24, 16).eval()
    seen: dict[str, torch.Tensor] = {}
    fc = block.fusion_conv
    hooks = [fc.down.register_forward_hook(lambda _m, _i, out: seen.__setitem__("down", out)),
             fc.conv_3x3.register_forward_hook(lambda _m, inp, _o: seen.__setitem__("conv_in", inp[0]))]
    try:
        with torch.no_grad():
            block(*[torch.randn(1, 8, 8, 8) for _ in range(3)])
    finally:
        for h in hooks:
            h.remove()
    return "a" if torch.equal(seen["down"], seen["conv_in"]) else "b"


def _msaa_min_out() -> int:
    for out_channels in range(1, 257):
        try:
            MSAA(112, out_channels)
            return out_channels
        except ValueError:
            continue
    raise RuntimeError("no size found")


def exercises() -> list[Exercise]:
    """The exercises of MSAA, in order."""
    return [
        Exercise("msaa", "int",
                 "MSAA(112, 64)（CM-UNet 的第一个实例）内部的宽度 D（down 之后的通道数）是多少？",
                 "MSAA(112, 64) (CM-UNet's first instance): what is the inner width D (channels after `down`)?",
                 lambda: MSAA(112, 64).fusion_conv.down.out_channels,
                 "{answer} = out_channels // 4：两个门和三个卷积都在这个窄宽度上运行。",
                 "{answer} = out_channels // 4: both gates and the three convs run at this narrow width.",
                 hints=[Hint(112, "down 先把拼接后的通道压下来。", "`down` first reduces the concatenated channels."),
                        Hint(64, "64 是输出通道数；内部更窄。", "64 is the output width; the inside is narrower.")],
                 nudge_zh="D 由 out_channels 和 factor=4 决定。", nudge_en="D depends on out_channels and factor=4."),
        Exercise("msaa", "shape",
                 "MSAA 的三个输入为 (1, 16, 56, 56)、(1, 32, 56, 56)、(1, 64, 56, 56)。空间门 Sa（key "
                 "'spatial_gate'）的形状？",
                 "MSAA gets inputs (1, 16, 56, 56), (1, 32, 56, 56) and (1, 64, 56, 56). What is the shape of the "
                 "spatial gate Sa (key 'spatial_gate')?",
                 lambda: kept_shape("msaa", "spatial_gate", B=1, C=16, H=56, W=56),
                 "{answer}：每个像素一个门值，对所有通道共用（通道门 Ca 才是每通道一个）。",
                 "{answer}: one gate value per pixel, shared by all channels (the channel gate Ca has one per "
                 "channel).",
                 hints=[Hint((1, 16, 1, 1), "这是通道门 Ca 的形状。", "That is the channel gate Ca's shape."),
                        Hint((1, 16, 56, 56), "空间门在通道上先取均值和最大值，再用 7×7 卷积压成一张图。",
                             "The spatial gate takes the channel mean and max, and a 7x7 conv makes one map.")],
                 axes=("B", "1", "H", "W")),
        Exercise("msaa", "int",
                 "在 explorer（explore('msaa')）里把 out_channels 调小。能构建 MSAA 的最小 out_channels 是多少？",
                 "In the explorer (explore('msaa')) lower out_channels. What is the smallest out_channels for which "
                 "MSAA can be built?",
                 _msaa_min_out,
                 "{answer}：D = out_channels // 4，而通道门 MLP 的隐藏宽度是 D // 4，它至少要为 1。",
                 "{answer}: D = out_channels // 4, and the channel MLP's hidden width D // 4 must be at least 1.",
                 hints=[Hint(4, "D = 1 时通道门 MLP 的隐藏宽度 D//4 = 0。",
                             "With D = 1 the channel MLP's hidden width D//4 is 0.")],
                 nudge_zh="两次整除 4 之后必须至少剩 1。",
                 nudge_en="After two integer divisions by 4, at least 1 must be left."),
        Exercise("msaa", "choice",
                 "MSAA 的多尺度空间路径（3×3、5×5、7×7 卷积）读的是哪个张量？",
                 "Which tensor do MSAA's multi-scale spatial convs (3x3, 5x5, 7x7) read?",
                 _msaa_spatial_input_choice,
                 "({answer})：两条路径并行，都从 down 之后的 F 出发；通道门的结果 Fc 只在最后相加。",
                 "({answer}): the two paths run in parallel from F (after `down`); the channel-gated Fc only joins "
                 "in the final sum.",
                 choices=[Choice("a", "down 之后的 F", "F, after `down`"),
                          Choice("b", "通道门之后的 Fc = F·Ca", "Fc = F * Ca, after the channel gate",
                                 "两条路径是并行的，不是先通道后空间（那是标准 CBAM 的顺序）。",
                                 "The paths are parallel, not channel-then-spatial (that is standard CBAM's order)."),
                          Choice("c", "拼接后、down 之前的特征", "the concatenation, before `down`",
                                 "卷积的输入通道数是 D，不是 in_channels。",
                                 "The convs take D input channels, not in_channels.")]),
        Exercise("msaa", "choice",
                 "把 demo 任务换成普通分割（对掩码做 BCE）：分割结果很好，但 Sa 几乎处处 ≈ 1。最可能的原因？",
                 "Change the demo to plain segmentation (BCE on the mask): it segments well, but Sa is ~1 "
                 "everywhere. Most likely why?",
                 lambda: "a",
                 "({answer})：其他路径（通道路径、卷积和输出头）自己就能分割，门不是必需的；"
                 "只有当任务需要“乘法式的遮罩”（抠图）时，门才会显出形状。",
                 "({answer}): the other paths (channel path, convs, head) can segment on their own, so the gate is "
                 "not needed; it only takes shape when the task needs a multiplicative mask (the cut-out).",
                 choices=[Choice("a", "别的路径自己就能完成分割，门不是必需的",
                                 "the other paths can segment alone; the gate is not needed"),
                          Choice("b", "学习率太大，sigmoid 饱和了", "the learning rate is too high and the sigmoid "
                                 "saturated", "同样的学习率下，抠图任务的 Sa 很清晰。",
                                 "With the same learning rate, the cut-out task gives a crisp Sa."),
                          Choice("c", "MSAA 的代码有 bug", "MSAA's code has a bug",
                                 "同一份代码在抠图任务中学出了清晰的门。",
                                 "The same code learns a crisp gate on the cut-out task.")]),
    ]
