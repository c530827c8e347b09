"""MFE: multi-scale feature extraction (多尺度空间特征提取).

Paper: Xie et al., "SHISRCNet: Super-resolution And Classification Network For Low-resolution
Breast Cancer Histopathology Image", arXiv 2306.14119 (2023).
Source: the note's MFEblock (official SHISRCNet ``SRResNet_class.py`` text). State-dict names kept:
layer1..layer4, project, SE1..SE4.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ..errors import checks_on, require_int, require_tensors, shape_error, type_error, value_error
from ..trace import note, section
from ._common import ASPPConv, OneConv, check_batchnorm_batch, check_weighting, select_scales


class MFEBlock(nn.Module):
    """Four cascaded 3x3 branches with growing dilation, fused by per-channel scale weights.

    Branch i sees the input plus the previous branch (``y1 = layer2(y0 + x)`` ...), so the
    receptive fields grow 3, 7, 15, 31 pixels with rates (2, 4, 8). The four branch maps are
    fused as in `MSFBlock`, then ``project(fused + x)`` adds a residual.

    Shape:
        x: (B, C, H, W), C = in_channels
        out: (B, C, H, W)

    Args:
        in_channels: Channels C.
        atrous_rates: Three dilation rates for branches 2-4, e.g. ``[2, 4, 8]``.
        weighting: ``"sigmoid_softmax"`` (the note, default) or ``"softmax"``.

    Differences from source: no debug prints; ``weighting`` switch added (default unchanged).

    Example:
        >>> import torch
        >>> MFEBlock(in_channels=8, atrous_rates=[2, 4, 8])(torch.rand(1, 8, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(self, in_channels: int, atrous_rates: Sequence[int], *, weighting: str = "sigmoid_softmax"):
        super().__init__()
        if checks_on():  # the note has none of these checks; raw_errors() turns them off
            require_int("MFEBlock", "in_channels", in_channels, hint="Pass the channel count C of the input.")
            _check_rates(atrous_rates)
            check_weighting("MFEBlock", weighting)
        rate1, rate2, rate3 = tuple(atrous_rates)
        self.weighting = weighting
        out_channels = in_channels
        self.layer1 = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, dilation=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )
        self.layer2 = ASPPConv(in_channels, out_channels, rate1)
        self.layer3 = ASPPConv(in_channels, out_channels, rate2)
        self.layer4 = ASPPConv(in_channels, out_channels, rate3)
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
        self.atrous_rates = (rate1, rate2, rate3)

    def forward(self, x: Tensor) -> Tensor:
        if checks_on():
            self._check(x)
        note(x, "B C H W", "输入特征图", "input feature map")
        section("多特征提取", "multi-feature extraction")
        y0 = self.layer1(x)
        note(y0, "B C H W", "尺度 0：只输入 x，3×3 卷积", "scale 0: x alone, a 3x3 conv", key="y0")
        y1 = self.layer2(y0 + x)
        note(y1, "B C H W", "尺度 1：输入 y0 + x，空洞卷积", "scale 1: y0 + x, a dilated conv", key="y1")
        y2 = self.layer3(y1 + x)
        note(y2, "B C H W", "尺度 2：输入 y1 + x，空洞更大", "scale 2: y1 + x, a wider dilation", key="y2")
        y3 = self.layer4(y2 + x)
        note(y3, "B C H W", "尺度 3：输入 y2 + x，感受野最大", "scale 3: y2 + x, the widest view", key="y3")
        fused = select_scales(self, (y0, y1, y2, y3))
        out = self.project(fused + x)
        note(out, "B C H W", "加上残差 x，再 project", "add the residual x, then project")
        return out

    def _check(self, x: Tensor) -> None:
        require_tensors("MFEBlock", ("x",), (x,), ndim=4)
        B, C, H, W = x.shape
        if C != self.in_channels:
            raise shape_error("MFEBlock", f"x must have in_channels={self.in_channels} channels",
                              {"x.shape": (B, C, H, W)},
                              f"Build MFEBlock(in_channels={C}, ...) or project x with a 1x1 conv.",
                              zh=f"x 的通道数必须是 in_channels={self.in_channels}",
                              zh_hint=f"可改建 MFEBlock(in_channels={C}, ...)，或先用 1×1 卷积投影。")
        check_batchnorm_batch("MFEBlock", self, B, H, W)



def _check_rates(atrous_rates: Sequence[int]) -> tuple[int, int, int]:
    if isinstance(atrous_rates, (str, bytes)) or not hasattr(atrous_rates, "__len__"):
        raise type_error("MFEBlock", "atrous_rates must be a list of 3 ints", {"atrous_rates": atrous_rates},
                         "Example: MFEBlock(64, atrous_rates=[2, 4, 8]).",
                         zh="atrous_rates 必须是 3 个整数的列表",
                         zh_hint="例如 MFEBlock(64, atrous_rates=[2, 4, 8])。")
    if len(atrous_rates) != 3:
        raise value_error("MFEBlock", "atrous_rates must hold exactly 3 dilation rates",
                          {"atrous_rates": list(atrous_rates)}, "Example: atrous_rates=[2, 4, 8].",
                          zh="atrous_rates 必须恰好包含 3 个空洞率",
                          zh_hint="例如 atrous_rates=[2, 4, 8]。")
    for rate in atrous_rates:
        require_int("MFEBlock", "atrous_rates[i]", rate, hint="Every rate must be a positive int, e.g. [2, 4, 8].")
    return tuple(int(r) for r in atrous_rates)


MFEblock = MFEBlock  # source name
