"""Layers and steps that several of the note's blocks share (MSF and MFE)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import require_choice, shape_error
from ..trace import note

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


def select_scales(block: nn.Module, branches: tuple[Tensor, ...]) -> Tensor:
    """Multi-scale selective fusion: one weight per channel and branch, then a weighted sum.

    Shape:
        branches: 4 tensors (B, C, H, W)
        out: (B, C, H, W)
    """
    ses = (block.SE1, block.SE2, block.SE3, block.SE4)
    pooled = block.gap(branches[0])
    note(pooled, "B C 1 1", zh="全局平均池化：每个通道压成一个数（4 个分支各做一次）",
         en="global average pool: one number per channel (done for each of the 4 branches)")
    logits = [ses[0](pooled)] + [se(block.gap(y)) for se, y in zip(ses[1:], branches[1:])]
    note(logits[0], "B C 1 1", zh="每个分支有自己的 1×1 卷积 SE_i，建模通道之间的关系",
         en="each branch has its own 1x1 conv SE_i that mixes the channels")
    weight = torch.cat(logits, 2)
    note(weight, "B C 4 1", zh="在第 2 维拼接：每个通道有 4 个分支描述符",
         en="concatenate on dim 2: 4 branch descriptors per channel")
    if block.weighting == "sigmoid_softmax":
        weight = block.Sigmoid(weight)
        note(weight, "B C 4 1", zh="sigmoid：把每个描述符压到 (0,1)，这是\u201c绝对\u201d大小",
             en="sigmoid squashes each descriptor into (0, 1): the 'absolute' size")
    weight = block.softmax(weight)
    note(weight, "B C 4 1", key="weights",
         zh="在分支维上做 softmax 得到相对权重；若先经 sigmoid，每个权重只能落在 (0.109, 0.475)",
         en="softmax over the 4 branches gives relative weights; after a sigmoid each lies in (0.109, 0.475)")
    w0 = weight[:, :, 0].unsqueeze(2)
    note(w0, "B C 1 1", zh="取出一个分支的权重并补回一维，以便按通道广播",
         en="one branch's weights, unsqueezed so they broadcast over H and W")
    fused = w0 * branches[0]
    for i in range(1, 4):
        fused = fused + weight[:, :, i].unsqueeze(2) * branches[i]
    note(fused, "B C H W", zh="加权求和：每个通道按自己的 4 个权重混合 4 个分支",
         en="weighted sum: each channel mixes the 4 branches with its own 4 weights")
    return fused
