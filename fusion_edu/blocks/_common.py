"""Layers and steps that several of the note's blocks share (MSF and MFE)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import require_choice, shape_error
from ..trace import note, section

WEIGHTINGS = ("sigmoid_softmax", "softmax")


def weight_bounds(n: int = 4) -> tuple[float, float]:
    """The range of one weight of a softmax over `n` sigmoid outputs: (1/(1+(n-1)e), e/(e+n-1)).

    Each sigmoid output lies in (0, 1), so a softmax input can beat the others by less than 1:
    at best e**1 against n-1 times e**0, at worst e**0 against n-1 times e**1.

    Example:
        >>> [round(b, 3) for b in weight_bounds(4)], [round(b, 3) for b in weight_bounds(2)]
        ([0.109, 0.475], [0.269, 0.731])
    """
    return 1 / (1 + (n - 1) * math.e), math.e / (math.e + n - 1)


NOTE_BOUNDS = weight_bounds(4)
"""The note's MSF/MFE scale weights (4 inputs) always lie strictly inside (0.109, 0.475)."""


class OneConv(nn.Module):
    """A bare convolution wrapped in a Sequential, as the note writes it (state-dict key ``conv.0``).

    The note's comment calls it "conv + ReLU", but its BatchNorm and ReLU are commented out:
    it is a single bias-free convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: int, paddings: int, dilations: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=kernel_sizes, padding=paddings,
                      dilation=dilations, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class ASPPConv(nn.Sequential):
    """3x3 convolution with dilation `dilation` (padding = dilation keeps H, W), BatchNorm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


def check_weighting(block: str, weighting: str) -> str:
    return require_choice(block, "weighting", weighting, WEIGHTINGS)


def check_batchnorm_batch(block: str, module: nn.Module, B: int, H: int, W: int) -> None:
    """BatchNorm in training mode needs more than one value per channel."""
    if module.training and B * H * W == 1:
        raise shape_error(block, "training mode needs more than one value per channel for BatchNorm",
                          {"B": B, "H": H, "W": W},
                          "Call .eval() for a forward-only look, or use B >= 2 or a larger map.",
                          zh="训练模式下 BatchNorm 每个通道需要多于一个数",
                          zh_hint="只看前向可先 .eval()，或用 B ≥ 2、更大的特征图。")


def select_scales(block: nn.Module, scales: tuple[Tensor, ...]) -> Tensor:
    """Multi-scale selective fusion: pool each scale, weigh the scales per channel, sum.

    Shape:
        scales: 4 tensors (B, C, H, W)
        out: (B, C, H, W)
    """
    section("多尺度融合", "multi-scale selective fusion")
    ses = (block.SE1, block.SE2, block.SE3, block.SE4)
    pooled = block.gap(scales[0])
    note(pooled, "B C 1 1", "GAP：池化聚合全局信息，每通道一个数", "GAP: global information, one number per channel")
    logits = [ses[0](pooled)] + [se(block.gap(y)) for se, y in zip(ses[1:], scales[1:])]
    note(logits[0], "B C 1 1", "SE1（1×1 卷积）建模通道相关性", "SE1 (a 1x1 conv) models channel correlations")
    weight = torch.cat(logits, 2)
    note(weight, "B C 4 1", "拼接 4 个尺度：C 个 4×1 的小矩阵", "concatenate the 4 scales: C little 4x1 matrices")
    if block.weighting == "sigmoid_softmax":
        weight = block.Sigmoid(weight)
        note(weight, "B C 4 1", "sigmoid：每种表示的绝对大小", "sigmoid: each representation's absolute size")
    weight = block.softmax(weight)
    note(weight, "B C 4 1", "softmax：4 个尺度间的相对大小", "softmax: relative size across scales", key="weights")
    w0 = weight[:, :, 0]
    note(w0, "B C 1", "取出尺度 0 的权重 weight[:, :, 0]", "scale 0's weights, weight[:, :, 0]")
    w0 = torch.unsqueeze(w0, 2)
    note(w0, "B C 1 1", "unsqueeze：每通道一个数，乘遍 H×W", "unsqueeze: one number per channel, over all H x W")
    fused = w0 * scales[0]
    for i in range(1, 4):
        fused = fused + torch.unsqueeze(weight[:, :, i], 2) * scales[i]
    note(fused, "B C H W", "权重 × 对应尺度，4 个尺度相加", "weights times their scale, the 4 scales summed")
    return fused
