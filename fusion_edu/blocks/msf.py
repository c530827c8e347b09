"""MSF: multi-scale selective fusion (多尺度选择性融合).

Paper: Xie et al., "SHISRCNet: Super-resolution And Classification Network For Low-resolution
Breast Cancer Histopathology Image", arXiv 2306.14119 (2023).
Source: the note's MSFblock, a four-input cut of the fusion half of SHISRCNet's MFEblock.
State-dict names kept: project, SE1..SE4 (``SEi.conv.0``).
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import checks_on, require_int, require_tensors, shape_error
from ..trace import note
from ._common import OneConv, check_batchnorm_batch, check_weighting, select_scales


class MSFBlock(nn.Module):
    """Fuse four same-shape feature maps with one learned weight per channel and input.

    Each input is pooled to one number per channel, passed through its own 1x1 conv, and the
    four results are turned into weights by a softmax across the inputs. The note applies a
    sigmoid before that softmax, which caps every weight inside (0.109, 0.475);
    ``weighting="softmax"`` drops the sigmoid so one input can take (almost) all the weight.

    Shape:
        x0, x1, x2, x3: (B, C, H, W) each, C = in_channels, all the same shape
        out: (B, C, H, W)

    Args:
        in_channels: Channels C of every input (and of the output).
        weighting: ``"sigmoid_softmax"`` (the note, default) or ``"softmax"`` (plain softmax).

    Differences from source: no debug prints; ``weighting`` switch added (default unchanged).

    Example:
        >>> import torch
        >>> xs = [torch.rand(4, 3, 2, 2) for _ in range(4)]
        >>> MSFBlock(in_channels=3)(*xs).shape
        torch.Size([4, 3, 2, 2])
    """

    def __init__(self, in_channels: int, *, weighting: str = "sigmoid_softmax"):
        super().__init__()
        if checks_on():  # the note has none of these checks; raw_errors() turns them off
            require_int("MSFBlock", "in_channels", in_channels, hint="Pass the channel count C of the inputs.")
            check_weighting("MSFBlock", weighting)
        self.weighting = weighting
        out_channels = in_channels
        self.project = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.softmax = nn.Softmax(dim=2)
        self.Sigmoid = nn.Sigmoid()
        self.SE1 = OneConv(in_channels, in_channels, 1, 0, 1)
        self.SE2 = OneConv(in_channels, in_channels, 1, 0, 1)
        self.SE3 = OneConv(in_channels, in_channels, 1, 0, 1)
        self.SE4 = OneConv(in_channels, in_channels, 1, 0, 1)
        self.in_channels = in_channels

    def forward(self, x0: Tensor, x1: Tensor, x2: Tensor, x3: Tensor) -> Tensor:
        if checks_on():
            self._check(x0, x1, x2, x3)
        note(x0, "B C H W", "4 个尺度的输入，形状相同（显示 x0）", "4 same-shape scale inputs (x0 shown)")
        fused = select_scales(self, (x0, x1, x2, x3))
        out = self.project(fused)
        note(out, "B C H W", "project：1×1 卷积 + BN + ReLU，无残差", "project: 1x1 conv + BN + ReLU, no residual")
        return out

    def _check(self, *xs: Tensor) -> None:
        require_tensors("MSFBlock", ("x0", "x1", "x2", "x3"), xs, ndim=4)
        shape = xs[0].shape
        for i, x in enumerate(xs[1:], start=1):
            if x.shape != shape:
                raise shape_error("MSFBlock", "all four inputs must have the same shape",
                                  {"x0.shape": tuple(shape), f"x{i}.shape": tuple(x.shape)},
                                  "Resize them first, e.g. F.interpolate(x, size=x0.shape[-2:]).",
                                  zh="四个输入的形状必须相同",
                                  zh_hint="请先缩放到同一大小，例如 F.interpolate(x, size=x0.shape[-2:])。")
        if shape[1] != self.in_channels:
            raise shape_error("MSFBlock", f"inputs must have in_channels={self.in_channels} channels",
                              {"x0.shape": tuple(shape)},
                              f"Build MSFBlock(in_channels={shape[1]}) or project the inputs with a 1x1 conv.",
                              zh=f"输入的通道数必须是 in_channels={self.in_channels}",
                              zh_hint=f"可改建 MSFBlock(in_channels={shape[1]})，或先用 1×1 卷积投影。")
        check_batchnorm_batch("MSFBlock", self, shape[0], shape[2], shape[3])


MSFblock = MSFBlock  # source name
