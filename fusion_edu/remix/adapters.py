"""Adapters that make parts fit: channels (1x1 conv), layout (NCHW <-> channels-last), two outputs to one,
and resolution (run a block at a lower size).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import require_int, shape_error, value_error
from ..trace import note
from .ports import Ports, check_single_out, choice, one_tensor, ports, wiring_spec

__all__ = ["ChannelAdapter", "ToChannelsLast", "ToNCHW", "ChannelsLast", "CBAMCombine", "Pick", "AtScale",
           "CBAM_MODES"]

CBAM_MODES = ("sum", "mean", "channel", "spatial")


class ChannelAdapter(nn.Module):
    """A 1x1 convolution (with bias) that changes the channel count: C_in -> C_out.

    Shape:
        x: (B, C_in, H, W)
        out: (B, C_out, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        require_int("ChannelAdapter", "in_channels", in_channels)
        require_int("ChannelAdapter", "out_channels", out_channels)
        self.proj = nn.Conv2d(in_channels, out_channels, 1)

    def _ports(self) -> Ports:
        return Ports((self.proj.in_channels,), (self.proj.out_channels,), "nchw", "nchw")

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.proj.in_channels:
            raise shape_error("ChannelAdapter", f"x must be (B, {self.proj.in_channels}, H, W)",
                              {"x.shape": tuple(x.shape)},
                              f"Build ChannelAdapter({x.shape[1] if x.ndim > 1 else '?'}, {self.proj.out_channels}).",
                              zh=f"x 的形状必须是 (B, {self.proj.in_channels}, H, W)", zh_hint="请按实际通道数构建。")
        note(x, "B Cin H W", zh="通道适配：输入", en="channel adapter: input")
        out = self.proj(x)
        note(out, "B Cout H W", zh="1×1 卷积把通道数从 Cin 变成 Cout", en="a 1x1 conv maps Cin channels to Cout")
        return out


class ToChannelsLast(nn.Module):
    """Moves channels last, for blocks written with nn.Linear on the last axis.

    Shape:
        x: (B, C, H, W)
        out: (B, H, W, C)
    """

    def _ports(self) -> Ports:
        return Ports((None,), (None,), "nchw", "channels_last")

    def forward(self, x: Tensor) -> Tensor:
        out = x.permute(0, 2, 3, 1)
        note(out, "B H W C", zh="布局：NCHW → channels-last（通道移到最后一维）",
             en="layout: NCHW -> channels-last (channels moved to the last axis)")
        return out


class ToNCHW(nn.Module):
    """Moves channels back to dim 1.

    Shape:
        x: (B, H, W, C)
        out: (B, C, H, W)
    """

    def _ports(self) -> Ports:
        return Ports((None,), (None,), "channels_last", "nchw")

    def forward(self, x: Tensor) -> Tensor:
        out = x.permute(0, 3, 1, 2)
        note(out, "B C H W", zh="布局：channels-last → NCHW", en="layout: channels-last -> NCHW")
        return out


class ChannelsLast(nn.Module):
    """Runs a channels-last block (GatedFusion) on NCHW tensors: permute every input in, the output back.

    Shape:
        inputs: (B, C, H, W) each
        out: (B, C, H, W)

    Example:
        >>> import torch
        >>> from fusion_edu.blocks import GatedFusion
        >>> x = torch.randn(1, 8, 5, 7)
        >>> ChannelsLast(GatedFusion(8))(x, x).shape
        torch.Size([1, 8, 5, 7])
    """

    def __init__(self, block: nn.Module):
        super().__init__()
        p = ports(block)
        if p.in_layout == "nchw":
            raise value_error("ChannelsLast", "the block already takes NCHW tensors", {"block": type(block).__name__},
                              "Use the block directly.", zh="该模块本来就接收 NCHW 张量",
                                                         zh_hint="直接使用该模块即可。")
        self.block = block

    def _ports(self) -> Ports:
        p = ports(self.block)
        return Ports(p.ins, p.outs, "nchw", "nchw")

    def forward(self, *inputs: Tensor) -> Tensor:
        for i, x in enumerate(inputs):
            if x.ndim != 4:
                raise shape_error("ChannelsLast", "inputs must be NCHW tensors (B, C, H, W)",
                                  {f"input {i} shape": tuple(x.shape)}, "Add the missing axes first.",
                                  zh="输入必须是 NCHW 四维张量", zh_hint="请先补齐维度。")
        note(inputs[0], "B C H W", zh="适配器：NCHW 输入", en="adapter: NCHW input")
        moved = [x.permute(0, 2, 3, 1) for x in inputs]
        note(moved[0], "B H W C", zh="适配器：转成 channels-last 交给内部模块",
             en="adapter: permute to channels-last for the inner block")
        out = self.block(*moved)
        out = out.permute(0, 3, 1, 2)
        note(out, "B C H W", zh="适配器：输出换回 NCHW", en="adapter: permute the output back to NCHW")
        return out


class CBAMCombine(nn.Module):
    """Turns CBAMBlock's two outputs (x * channel weight, x * spatial weight) into one tensor.

    Modes: ``"sum"`` out1 + out2 (both gates, in parallel, added, as MSAA adds its two paths);
    ``"mean"`` (out1 + out2) / 2 (same, half the scale); ``"channel"`` out1 only; ``"spatial"``
    out2 only. ``out1 * out2`` is not offered: it would square x. For the two gates in sequence
    use standard CBAM.

    Shape:
        x: (B, C, H, W) with H*W = the block's HW
        out: (B, C, H, W)
    """

    def __init__(self, block: nn.Module, mode: str = "sum"):
        super().__init__()
        self.mode = choice("CBAMCombine", "mode", mode, CBAM_MODES)
        if len(ports(block).outs) != 2:
            raise value_error("CBAMCombine", "the block must return two tensors (like CBAMBlock)",
                              {"block": type(block).__name__}, "Use the block directly; it returns one tensor.",
                              zh="该模块必须返回两个张量（如 CBAMBlock）", zh_hint="它只返回一个张量，直接使用即可。")
        self.block = block

    def _ports(self) -> Ports:
        p = ports(self.block)
        return Ports(p.ins, p.outs[:1], p.in_layout, p.out_layout)

    def forward(self, x: Tensor) -> Tensor:
        out1, out2 = self.block(x)
        combine: dict[str, tuple[Callable[[], Tensor], str, str]] = {
            "sum": (lambda: out1 + out2, "组合：out1 + out2（通道门与空间门并行后相加）",
                    "combine: out1 + out2 (channel gate and spatial gate in parallel, added)"),
            "mean": (lambda: (out1 + out2) / 2, "组合：(out1 + out2) / 2", "combine: (out1 + out2) / 2"),
            "channel": (lambda: out1, "组合：只用 out1（通道门）", "combine: out1 only (the channel gate)"),
            "spatial": (lambda: out2, "组合：只用 out2（空间门）", "combine: out2 only (the spatial gate)"),
        }
        fn, zh, en = combine[self.mode]
        out = fn()
        note(out, "B C H W", zh=zh, en=en)
        return out


class Pick(nn.Module):
    """Keeps output `index` of a block that returns several tensors.

    Shape:
        inputs: what the block takes
        out: the block's output number `index`
    """

    def __init__(self, block: nn.Module, index: int = 0):
        super().__init__()
        outs = len(ports(block).outs)
        require_int("Pick", "index", index, minimum=0)
        if outs > 1 and index >= outs:
            raise value_error("Pick", f"index must be < {outs}, the number of outputs", {"index": index},
                              f"Use index in 0..{outs - 1}.", zh=f"index 必须小于输出个数 {outs}")
        self.block = block
        self.index = index

    def _ports(self) -> Ports:
        p = ports(self.block)
        outs = p.outs[self.index:self.index + 1] if len(p.outs) > self.index else (None,)
        return Ports(p.ins, outs, p.in_layout, p.out_layout)

    def forward(self, *inputs: Tensor) -> Tensor:
        out = self.block(*inputs)
        picked = out[self.index]
        note(picked, wiring_spec(picked), zh=f"取出第 {self.index} 个输出", en=f"keep output number {self.index}")
        return picked


class AtScale(nn.Module):
    """Runs a block at a lower resolution: pool down, block, upsample back (the note's "Pooling (up, down)").

    Useful for CBAMBlock, whose joint MLP is built for one H*W: ``AtScale(CBAMCombine(CBAMBlock(C,
    HW=7*7)), size=(7, 7))`` takes any input size.

    Shape:
        x: (B, C, H, W)
        out: (B, C', H, W), C' the block's output channels

    Args:
        block: One-input, one-output block.
        size: (h, w) to run the block at; or give `factor` instead (h = H // factor).
        factor: Downsampling factor (ignored when `size` is given).
        pool: ``"avg"`` or ``"max"`` adaptive pooling for the way down.
        up: ``"nearest"`` or ``"bilinear"`` interpolation for the way up.
    """

    def __init__(self, block: nn.Module, size: tuple[int, int] | None = None, *, factor: int | None = None,
                 pool: str = "avg", up: str = "nearest"):
        super().__init__()
        if (size is None) == (factor is None):
            raise value_error("AtScale", "give exactly one of size=(h, w) or factor=k", {"size": size,
                              "factor": factor}, "Example: AtScale(block, size=(7, 7)) or AtScale(block, factor=2).",
                              zh="size=(h, w) 与 factor=k 必须且只能给一个",
                              zh_hint="例如 AtScale(block, size=(7, 7))。")
        if factor is not None:
            require_int("AtScale", "factor", factor)
        else:
            for v in size:
                require_int("AtScale", "size[i]", v)
        self.size = None if size is None else tuple(size)
        self.factor = factor
        self.pool = choice("AtScale", "pool", pool, ("avg", "max"))
        self.up = choice("AtScale", "up", up, ("nearest", "bilinear"))
        check_single_out("AtScale", "block", ports(block), block)
        self.block = block

    def _ports(self) -> Ports:
        p = ports(self.block)
        return Ports(p.ins, p.outs, "nchw", "nchw")

    def forward(self, x: Tensor) -> Tensor:
        H, W = x.shape[-2:]
        size = self.size or (max(1, H // self.factor), max(1, W // self.factor))
        note(x, "B C H W", zh="换尺度：输入", en="at scale: input")
        pool = F.adaptive_avg_pool2d if self.pool == "avg" else F.adaptive_max_pool2d
        small = pool(x, size)
        note(small, "B C h w", h=size[0], w=size[1], zh=f"下采样：{self.pool} 池化到 h×w",
             en=f"down: {self.pool}-pool to h x w")
        y = one_tensor("AtScale", "block", self.block(small), self.block)
        note(y, wiring_spec(y, "nchw", small, "nchw", "'").replace("H", "h").replace("W", "w"), h=size[0], w=size[1],
             zh="在低分辨率上运行内部模块", en="the inner block runs at the low resolution")
        kw = {"align_corners": False} if self.up == "bilinear" else {}
        out = F.interpolate(y, size=(H, W), mode=self.up, **kw)
        note(out, wiring_spec(out, "nchw", x, "nchw", "'"), zh=f"上采样：{self.up} 插值回 H×W",
             en=f"up: {self.up} interpolation back to H x W")
        return out
