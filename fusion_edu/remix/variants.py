"""Variants of the catalog blocks for the swaps the note suggests ("改：conv，Pooling"; "完全可以改成坐标注意力").

* `MFEVariant`: MFE with ``conv="dilated"`` (the note), ``"standard"`` (rate 1 everywhere) or
  ``"depthwise"`` (depthwise-separable dilated convs in branches 2-4), and any scale weighting.
* `MSFCoord`: MSF whose scale weights vary along H and W (coordinate-attention style) instead of
  one weight per channel and scale. `CoordScaleWeights` is that weighting on its own.
* `MSAAChannelOnly` / `CBAMChannelOnly`: the channel gate alone, spatial path removed.

Each variant keeps the catalog block's state-dict names where the parts are the same, so
`param_diff` shows exactly which modules were added or removed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..blocks import MSAA, ASPPConv, MFEBlock, MSFBlock, Ports, check_batchnorm_batch, select_scales
from ..blocks.cbam_joint import ChannelAttention
from ..blocks.msaa import ChannelAttentionModule
from ..errors import require_choice, require_int, require_tensors, shape_error, value_error
from ..trace import note

__all__ = ["CoordScaleWeights", "MSFCoord", "MFEVariant", "DepthwiseSeparableConv", "MSAAChannelOnly",
           "CBAMChannelOnly", "CONVS", "SCALE_WEIGHTINGS"]

CONVS = ("dilated", "standard", "depthwise")
SCALE_WEIGHTINGS = ("sigmoid_softmax", "softmax", "coord")


class CoordScaleWeights(nn.Module):
    """Scale selection whose weights change along H and along W (coordinate-attention style).

    MSF gives each channel one weight per scale for the whole map (global average pool). Here each
    scale's map is averaged along W (a row profile, (B, C, H, 1)) and along H (a column profile,
    (B, C, 1, W)); its own 1x1 convs ``row[i]`` and ``col[i]`` turn them into scores a_h and a_w.
    The weights are ``softmax_i(a_h + a_w)``, shape (B, C, n, H, W): per pixel and channel they
    sum to 1 over the n scales. Equivalently they are the product of a row softmax and a column
    softmax, renormalised over the scales.

    Shape:
        branches: n tensors (B, C, H, W)
        out: (B, C, H, W), the per-pixel weighted sum of the branches

    Args:
        channels: C.
        n_scales: Number of branches n (4 for MSF and MFE).

    Example:
        >>> import torch
        >>> ys = [torch.randn(2, 8, 5, 7) for _ in range(4)]
        >>> CoordScaleWeights(8)(*ys).shape
        torch.Size([2, 8, 5, 7])
    """

    def __init__(self, channels: int, n_scales: int = 4):
        super().__init__()
        require_int("CoordScaleWeights", "channels", channels)
        require_int("CoordScaleWeights", "n_scales", n_scales, minimum=2)
        self.channels = channels
        self.n_scales = n_scales
        self.row = nn.ModuleList([nn.Conv2d(channels, channels, 1, bias=False) for _ in range(n_scales)])
        self.col = nn.ModuleList([nn.Conv2d(channels, channels, 1, bias=False) for _ in range(n_scales)])
        self.softmax = nn.Softmax(dim=2)

    def _ports(self) -> Ports:
        return Ports((self.channels,) * self.n_scales, (self.channels,), "nchw", "nchw")

    def forward(self, *branches: Tensor) -> Tensor:
        n = self.n_scales
        if len(branches) != n:
            raise value_error("CoordScaleWeights", f"needs exactly n_scales={n} branch maps",
                              {"branches": len(branches)}, f"Pass {n} tensors of the same shape.",
                              zh=f"需要恰好 n_scales={n} 个分支特征图", zh_hint=f"请传入 {n} 个形状相同的张量。")
        rows = [y.mean(dim=3, keepdim=True) for y in branches]
        note(rows[0], "B C H 1", zh="沿 W 求平均：每个尺度、每个通道、每一行一个数（行描述）",
             en="average along W: one number per scale, channel and row (the row profile)")
        cols = [y.mean(dim=2, keepdim=True) for y in branches]
        note(cols[0], "B C 1 W", zh="沿 H 求平均：每一列一个数（列描述）",
             en="average along H: one number per column (the column profile)")
        a_h = torch.stack([conv(r) for conv, r in zip(self.row, rows)], dim=2)
        note(a_h, "B C n H 1", n=n, zh="每个尺度各有一个 1×1 卷积 row_i 给行打分，在新的尺度维上堆叠",
             en="each scale has its own 1x1 conv row_i that scores the rows; stacked on a new scale axis")
        a_w = torch.stack([conv(c) for conv, c in zip(self.col, cols)], dim=2)
        note(a_w, "B C n 1 W", n=n, zh="同样用 col_i 给列打分", en="likewise col_i scores the columns")
        weights = self.softmax(a_h + a_w)
        note(weights, "B C n H W", n=n, key="weights",
             zh="行分 + 列分广播成 H×W，在尺度维做 softmax：每个像素每个通道有自己的 n 个权重，和为 1",
             en="row score + column score broadcast to H x W, softmax over the scales: n weights per pixel and "
                "channel, summing to 1")
        fused = (weights * torch.stack(branches, dim=2)).sum(dim=2)
        note(fused, "B C H W", zh="逐像素加权求和：不同位置可以偏向不同尺度",
             en="per-pixel weighted sum: different places can prefer different scales")
        return fused


class MSFCoord(MSFBlock):
    """MSFBlock with coordinate-attention scale weights (the note: "完全可以改成坐标注意力").

    Changes against MSFBlock: SE1..SE4 (one 1x1 conv per scale on the globally pooled vector) are
    removed; ``coord.row[i]`` and ``coord.col[i]`` (two 1x1 convs per scale, on row and column
    profiles) are added: +4*C*C parameters. ``project`` is unchanged.

    Shape:
        x0, x1, x2, x3: (B, C, H, W) each, C = in_channels
        out: (B, C, H, W)

    Example:
        >>> import torch
        >>> xs = [torch.rand(2, 3, 4, 5) for _ in range(4)]
        >>> MSFCoord(3)(*xs).shape
        torch.Size([2, 3, 4, 5])
    """

    def __init__(self, in_channels: int):
        super().__init__(in_channels, weighting="softmax")
        for name in ("SE1", "SE2", "SE3", "SE4", "gap", "Sigmoid", "softmax"):
            delattr(self, name)
        self.weighting = "coord"
        self.coord = CoordScaleWeights(in_channels, 4)

    def forward(self, x0: Tensor, x1: Tensor, x2: Tensor, x3: Tensor) -> Tensor:
        self._check(x0, x1, x2, x3)
        note(x0, "B C H W", zh="四个输入形状相同（这里显示 x0）", en="four inputs of the same shape (x0 shown)")
        fused = self.coord(x0, x1, x2, x3)
        out = self.project(fused)
        note(out, "B C H W", zh="project：1×1 卷积 + BN + ReLU", en="project: 1x1 conv + BN + ReLU")
        return out


class DepthwiseSeparableConv(nn.Module):
    """A 3x3 depthwise conv (one filter per channel, dilation d) followed by a 1x1 pointwise conv.

    Parameters: 9*C_in + C_in*C_out instead of 9*C_in*C_out for a standard 3x3 conv.

    Shape:
        x: (B, C_in, H, W)
        out: (B, C_out, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, dilation: int = 1):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=dilation, dilation=dilation,
                                   groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        y = self.depthwise(x)
        note(y, "B C H W", zh="逐通道 3×3 卷积：每个通道单独滤波，不混合通道",
             en="depthwise 3x3: each channel filtered on its own, no channel mixing")
        out = self.pointwise(y)
        note(out, "B Cout H W", zh="逐点 1×1 卷积：混合通道", en="pointwise 1x1: mixes the channels")
        return out


_CONV_LABELS = {
    "dilated": ("空洞 3×3 卷积", "dilated 3x3 conv"),
    "standard": ("普通 3×3 卷积（空洞率 1）", "plain 3x3 conv (rate 1)"),
    "depthwise": ("深度可分离空洞卷积", "depthwise-separable dilated conv"),
}


class MFEVariant(MFEBlock):
    """MFEBlock with a chosen convolution in branches 2-4 and a chosen scale weighting.

    ``conv``: ``"dilated"`` (the note: 3x3 convs with rates atrous_rates), ``"standard"`` (3x3
    with rate 1 everywhere: same parameters, receptive fields 3, 5, 7, 9 instead of 3, 7, 15, 31)
    or ``"depthwise"`` (layer2..4 become depthwise-separable dilated convs: each branch's
    9*C*C conv weights become 9*C + C*C). ``weighting``: ``"sigmoid_softmax"`` (the note),
    ``"softmax"`` or ``"coord"`` (`CoordScaleWeights` replaces SE1..SE4: +4*C*C).
    ``layer1``, BatchNorms, ``project`` and the residual stay as in MFEBlock.

    Shape:
        x: (B, C, H, W), C = in_channels
        out: (B, C, H, W)

    Example:
        >>> import torch
        >>> MFEVariant(8, [2, 4, 8], conv="depthwise").eval()(torch.rand(1, 8, 9, 9)).shape
        torch.Size([1, 8, 9, 9])
    """

    def __init__(self, in_channels: int, atrous_rates: Sequence[int] = (2, 4, 8), *, conv: str = "dilated",
                 weighting: str = "sigmoid_softmax"):
        require_choice("MFEVariant", "conv", conv, CONVS)
        require_choice("MFEVariant", "weighting", weighting, SCALE_WEIGHTINGS)
        super().__init__(in_channels, atrous_rates, weighting="softmax" if weighting == "coord" else weighting)
        C = in_channels
        rates = (1, 1, 1) if conv == "standard" else self.atrous_rates
        for name, rate in zip(("layer2", "layer3", "layer4"), rates):
            if conv == "standard":
                setattr(self, name, ASPPConv(C, C, 1))
            elif conv == "depthwise":
                setattr(self, name, nn.Sequential(DepthwiseSeparableConv(C, C, rate), nn.BatchNorm2d(C), nn.ReLU()))
        if weighting == "coord":
            for name in ("SE1", "SE2", "SE3", "SE4", "gap", "Sigmoid", "softmax"):
                delattr(self, name)
            self.coord = CoordScaleWeights(C, 4)
        self.conv = conv
        self.weighting = weighting
        self.rates = rates

    def forward(self, x: Tensor) -> Tensor:
        require_tensors("MFEVariant", ("x",), (x,), ndim=4)
        B, C, H, W = x.shape
        if C != self.in_channels:
            raise shape_error("MFEVariant", f"x must have in_channels={self.in_channels} channels",
                              {"x.shape": (B, C, H, W)}, f"Build MFEVariant({C}, ...) or add ChannelAdapter.",
                              zh=f"x 的通道数必须是 in_channels={self.in_channels}",
                              zh_hint=f"可改建 MFEVariant({C}, ...)。")
        check_batchnorm_batch("MFEVariant", self, B, H, W)
        zh, en = _CONV_LABELS[self.conv]
        note(x, "B C H W", zh="输入特征图", en="input feature map")
        y0 = self.layer1(x)
        note(y0, "B C H W", key="y0", zh="分支 1：普通 3×3 卷积 + BN + ReLU", en="branch 1: plain 3x3 conv + BN + ReLU")
        ys = [y0]
        for i, layer in enumerate((self.layer2, self.layer3, self.layer4), start=1):
            y = layer(ys[-1] + x)
            note(y, "B C H W", key=f"y{i}", zh=f"分支 {i + 1}：对 y{i - 1} + x 做{zh}（空洞率 {self.rates[i - 1]}）",
                 en=f"branch {i + 1}: {en} (rate {self.rates[i - 1]}) on y{i - 1} + x")
            ys.append(y)
        fused = self.coord(*ys) if self.weighting == "coord" else select_scales(self, tuple(ys))
        out = self.project(fused + x)
        note(out, "B C H W", zh="残差：加上输入 x，再经 project", en="residual: add the input x, then project")
        return out


class ChannelOnlyFusionConv(nn.Module):
    """MSAA's FusionConv with the multi-scale spatial path removed: out = up(F * Ca).

    Shape:
        x1, x2, x4: (B, C_i, H, W) with C_1 + C_2 + C_3 = in_channels
        out: (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, factor: float = 4.0):
        super().__init__()
        dim = int(out_channels // factor)
        self.down = nn.Conv2d(in_channels, dim, kernel_size=1)
        self.channel_attention = ChannelAttentionModule(dim)
        self.up = nn.Conv2d(dim, out_channels, kernel_size=1)
        self.down_2 = nn.Conv2d(in_channels, dim, kernel_size=1)  # unused, as in MSAA; kept so the keys match

    def forward(self, x1: Tensor, x2: Tensor, x4: Tensor) -> Tensor:
        x = torch.cat([x1, x2, x4], dim=1)
        note(x, "B Cin H W", zh="三个尺度按通道拼接", en="concatenate the three scales on channels")
        x = self.down(x)
        note(x, "B D H W", zh="1×1 卷积 down 降到 D 个通道", en="1x1 conv down to D channels")
        gate = self.channel_attention(x)
        note(gate, "B D 1 1", key="channel_gate", zh="通道门 Ca（与 MSAA 相同）", en="channel gate Ca (as in MSAA)")
        fused = x * gate
        note(fused, "B D H W", zh="F ⊙ Ca；没有空间门，也没有 3/5/7 卷积", en="F * Ca; no spatial gate, no 3/5/7 convs")
        out = self.up(fused)
        note(out, "B Cout H W", zh="1×1 卷积 up 到 out_channels", en="1x1 conv up to out_channels")
        return out


class MSAAChannelOnly(MSAA):
    """MSAA with only its channel gate: the 3x3/5x5/7x7 convs and the spatial gate are removed.

    Removes 83*D*D + 3*D + 98 parameters (D = out_channels // 4).

    Shape:
        x1, x2, x4: (B, C_i, H, W), C_1 + C_2 + C_3 = in_channels
        out: (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels)
        self.fusion_conv = ChannelOnlyFusionConv(in_channels, out_channels)


class CBAMChannelOnly(nn.Module):
    """The note's CBAM variant with the spatial descriptor removed: a joint MLP over the C channel logits only.

    Against CBAMBlock (built for HW) this removes ``SpatialAttention`` (2*k*k + 1 parameters) and
    the HW rows and columns of the joint MLP (2*HW*(C//r)), returns one tensor x * channel weight,
    and, with nothing tied to pixel positions, takes any H x W.

    Shape:
        x: (B, C, H, W), C = channel
        out: (B, C, H, W)

    Example:
        >>> import torch
        >>> CBAMChannelOnly(16, reduction=4)(torch.randn(1, 16, 9, 5)).shape
        torch.Size([1, 16, 9, 5])
    """

    def __init__(self, channel: int = 512, reduction: int = 16):
        super().__init__()
        require_int("CBAMChannelOnly", "channel", channel)
        require_int("CBAMChannelOnly", "reduction", reduction)
        if reduction > channel:
            raise value_error("CBAMChannelOnly", "reduction must be <= channel so the MLP keeps >= 1 unit",
                              {"channel": channel, "reduction": reduction}, f"Try reduction={max(1, channel // 8)}.",
                              zh="reduction 不能大于 channel", zh_hint=f"可试 reduction={max(1, channel // 8)}。")
        self.ChannelAttention = ChannelAttention(channel=channel, reduction=reduction)
        self.MLP = nn.Sequential(
            nn.Conv2d(channel, channel // reduction, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(channel // reduction, channel, 1, bias=False),
        )
        self.sigmoid = nn.Sigmoid()
        self.channel = channel

    def _ports(self) -> Ports:
        return Ports((self.channel,), (self.channel,), "nchw", "nchw")

    def forward(self, x: Tensor) -> Tensor:
        require_tensors("CBAMChannelOnly", ("x",), (x,), ndim=4)
        if x.shape[1] != self.channel:
            raise shape_error("CBAMChannelOnly", f"x must have channel={self.channel} channels",
                              {"x.shape": tuple(x.shape)}, f"Build CBAMChannelOnly({x.shape[1]}).",
                              zh=f"x 的通道数必须是 channel={self.channel}",
                              zh_hint=f"可改建 CBAMChannelOnly({x.shape[1]})。")
        note(x, "B C H W", zh="输入特征图（任意 H×W）", en="input feature map (any H x W)")
        logits = self.ChannelAttention(x)
        note(logits, "B C 1 1", zh="通道描述符：最大/平均池化共用一个 MLP 后相加",
             en="channel descriptor: max- and avg-pool through one shared MLP, summed")
        weight = self.sigmoid(self.MLP(logits))
        note(weight, "B C 1 1", key="channel_weight", zh="只对 C 个通道分量做 MLP，再 sigmoid：通道权重",
             en="the MLP on the C channel values only, then sigmoid: channel weights")
        out = x * weight
        note(out, "B C H W", zh="x ⊙ 通道权重（没有空间门）", en="x * channel weights (no spatial gate)")
        return out
