"""Wiring blocks together: residual, series, parallel branches with a chosen fusion, and adapters.

Every composite is a plain `nn.Module`, so `fusion_edu.trace`, torchview and `state_dict` work on it.
The wrappers write their own `note()` rows (zh + en), so a trace of a composite shows the wiring
("residual: add the input back") between the rows of the blocks inside it.

Parts are checked when the composite is built: the channels that one part gives must be the
channels the next part takes, a block that returns two tensors (CBAMBlock) must be told which to
use, and a channels-last block (GatedFusion) must be adapted. `ports(module)` is what these checks
read: what a module takes and gives, as far as it can be known without running it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import MSAA, SAFM, CBAMBlock, GatedFusion, MFEBlock, MSFBlock, OSRAttention
from ..errors import require_int, shape_error, type_error, value_error
from ..trace import note

__all__ = ["Ports", "ports", "Residual", "Series", "Parallel", "ChannelAdapter", "ToChannelsLast", "ToNCHW",
           "ChannelsLast", "CBAMCombine", "Pick", "AtScale", "FUSIONS", "MSF_PADS", "CBAM_MODES"]

FUSIONS = ("add", "concat", "gated", "msf")
MSF_PADS = ("input", "zeros", "repeat")
CBAM_MODES = ("sum", "mean", "channel", "spatial")
_SHORT = {"OSRAttention": "osra", "MSAAChannelOnly": "msaa_channel"}
LAYOUT_NAMES = {"nchw": ("B", "C", "H", "W"), "channels_last": ("B", "H", "W", "C")}


# --------------------------------------------------------------------------- what a module takes and gives

@dataclass(frozen=True)
class Ports:
    """What a module takes and gives, as far as it is known before running it.

    Attributes:
        ins: Channels of each input (None: any or unknown); its length is the number of inputs.
        outs: Channels of each output; length 2 for a block that returns two tensors (CBAMBlock).
        in_layout: ``"nchw"``, ``"channels_last"`` or ``"any"``.
        out_layout: The same for the outputs.
    """

    ins: tuple[int | None, ...] = (None,)
    outs: tuple[int | None, ...] = (None,)
    in_layout: str = "any"
    out_layout: str = "any"


def ports(module: nn.Module) -> Ports:
    """The `Ports` of a catalog block, a remix composite or a plain layer (unknown parts give None).

    Example:
        >>> ports(GatedFusion(8))
        Ports(ins=(8, 8), outs=(8,), in_layout='channels_last', out_layout='channels_last')
    """
    own = getattr(module, "_ports", None)
    if callable(own):
        return own()
    if isinstance(module, GatedFusion):
        layout = "nchw" if module.layout == "nchw" else "channels_last"
        return Ports((module.dim, module.dim), (module.dim,), layout, layout)
    if isinstance(module, MSFBlock):
        return Ports((module.in_channels,) * 4, (module.in_channels,), "nchw", "nchw")
    if isinstance(module, MFEBlock):
        return Ports((module.in_channels,), (module.in_channels,), "nchw", "nchw")
    if isinstance(module, (SAFM, OSRAttention)):
        return Ports((module.dim,), (module.dim,), "nchw", "nchw")
    if isinstance(module, MSAA):
        return Ports((None, None, None), (module.out_channels,), "nchw", "nchw")
    if isinstance(module, CBAMBlock):
        return Ports((module.channel,), (module.channel, module.channel), "nchw", "nchw")
    if isinstance(module, nn.Conv2d):
        return Ports((module.in_channels,), (module.out_channels,), "nchw", "nchw")
    if isinstance(module, nn.BatchNorm2d):
        return Ports((module.num_features,), (module.num_features,), "nchw", "nchw")
    if isinstance(module, nn.Sequential) and len(module):
        first, last = ports(module[0]), ports(module[-1])
        return Ports(first.ins, last.outs, first.in_layout, last.out_layout)
    return Ports()


def short_name(module: nn.Module) -> str:
    """A readable child name from the class: MFEBlock -> 'mfe', CBAMBlock -> 'cbam', AtScale -> 'at_scale'."""
    name = type(module).__name__
    if name in _SHORT:
        return _SHORT[name]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return re.sub(r"_?block$", "", snake) or snake


def _named(owner: str, blocks: tuple[nn.Module, ...], named: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """Positional parts get names from their classes (deduplicated with _2, _3); keyword parts keep theirs."""
    if blocks and named:
        raise type_error(owner, "give the parts either all by position or all by name", {"by position": len(blocks),
                         "by name": sorted(named)}, f"Example: {owner}(safm=SAFM(32), mfe=MFEBlock(32, [2, 4, 8])).",
                         zh="部件要么全部按位置传入，要么全部按名字传入",
                         zh_hint=f"例如 {owner}(safm=SAFM(32), mfe=MFEBlock(32, [2, 4, 8]))。")
    for name, block in [*((str(i), b) for i, b in enumerate(blocks, start=1)), *named.items()]:
        if not isinstance(block, nn.Module):
            shown = block.__name__ if isinstance(block, type) else type(block).__name__
            raise type_error(owner, "every part must be a built nn.Module", {f"part {name}": shown},
                             "Build the block first, e.g. SAFM(32), not SAFM.",
                             zh="每个部件都必须是已构建的 nn.Module",
                             zh_hint="请先构建模块，例如 SAFM(32) 而不是 SAFM。")
    if named:
        parts = dict(named)
    else:
        parts, seen = {}, {}
        for block in blocks:
            base = short_name(block)
            seen[base] = seen.get(base, 0) + 1
            parts[base if seen[base] == 1 else f"{base}_{seen[base]}"] = block
    if not parts:
        raise value_error(owner, "needs at least one part", {"parts": 0}, f"Example: {owner}(SAFM(32)).",
                          zh="至少需要一个部件", zh_hint=f"例如 {owner}(SAFM(32))。")
    return parts


def _check_single_out(owner: str, part: str, p: Ports, block: nn.Module) -> None:
    if len(p.outs) > 1:
        fix = (f"CBAMCombine({type(block).__name__}(...), mode='sum')" if isinstance(block, CBAMBlock)
               else f"Pick({type(block).__name__}(...), 0)")
        raise value_error(owner, f"part '{part}' returns {len(p.outs)} tensors but the next step needs one",
                          {"part": part, "outputs": len(p.outs)}, f"Choose or combine them: wrap it in {fix}.",
                          zh=f"部件 '{part}' 返回 {len(p.outs)} 个张量，而下一步只接收一个",
                          zh_hint=f"请选择或组合它们：用 {fix} 包装。")


def _check_link(owner: str, a: str, pa: Ports, b: str, pb: Ports, block_b: nn.Module) -> None:
    """Part `a` feeds part `b`: one tensor, the same channels, the same layout."""
    if len(pb.ins) > 1:
        raise value_error(owner, f"part '{b}' takes {len(pb.ins)} inputs, but inside a chain it gets only the "
                          "previous part's output", {"part": b, "inputs": len(pb.ins)},
                          "Put it first in the Series, or feed it with Parallel(..., fuse=block).",
                          zh=f"部件 '{b}' 需要 {len(pb.ins)} 个输入，但在串联中只能拿到上一个部件的输出",
                          zh_hint="把它放在 Series 的第一个，或用 Parallel(..., fuse=该模块) 给它送多个分支。")
    out, inn = pa.outs[0], pb.ins[0]
    if out is not None and inn is not None and out != inn:
        raise value_error(owner, f"the channels that part '{a}' gives must be the channels part '{b}' takes",
                          {f"{a} out": out, f"{b} in": inn},
                          f"Insert ChannelAdapter({out}, {inn}) between them, or build '{b}' with {out} channels.",
                          zh=f"部件 '{a}' 输出的通道数必须等于部件 '{b}' 输入的通道数",
                          zh_hint=f"在两者之间插入 ChannelAdapter({out}, {inn})，或把 '{b}' 按 {out} 个通道构建。")
    if "any" not in (pa.out_layout, pb.in_layout) and pa.out_layout != pb.in_layout:
        fix = (f"wrap it: ChannelsLast({type(block_b).__name__}(...))" if pb.in_layout == "channels_last"
               else "insert ToNCHW() between them")
        raise value_error(owner, f"part '{a}' gives {pa.out_layout} tensors but part '{b}' takes {pb.in_layout}",
                          {f"{a} layout": pa.out_layout, f"{b} layout": pb.in_layout}, f"Adapt the layout: {fix}.",
                          zh=f"部件 '{a}' 输出 {pa.out_layout} 布局，而部件 '{b}' 需要 {pb.in_layout}",
                          zh_hint=f"请转换布局：{fix}。")


def _choice(owner: str, name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise value_error(owner, f"{name} must be one of {options}", {name: value}, f"Example: {name}={choices[0]!r}.",
                          zh=f"{name} 只能取 {options}", zh_hint=f"例如 {name}={choices[0]!r}。")
    return value


def _reraise_in(error: Exception, where: str, where_zh: str) -> None:
    """Re-raises a block's ValueError/TypeError with the composite part in front of its message."""
    try:
        wrapped = type(error)(f"{where}: {error}")
    except Exception:  # an exception class with an unusual constructor: keep the original
        raise error from None
    zh = getattr(error, "zh", "")
    wrapped.zh = f"{where_zh}：{zh}" if zh else ""
    raise wrapped from error


def _names(t: Tensor, layout: str) -> tuple[str, ...] | None:
    if t.ndim != 4:
        return None
    return LAYOUT_NAMES["channels_last" if layout == "channels_last" else "nchw"]


def _spec(t: Tensor, layout: str = "nchw", ref: Tensor | None = None, ref_layout: str = "nchw", tag: str = "") -> str:
    """The spec of a wiring step: the axis names of `layout`; an axis whose size differs from `ref`'s gets `tag`."""
    names = _names(t, layout)
    if names is None:
        return "..."
    if ref is None or _names(ref, ref_layout) is None:
        return " ".join(names)
    sizes = dict(zip(_names(ref, ref_layout), ref.shape))
    return " ".join(n if sizes.get(n) == s else f"{n}{tag}" for n, s in zip(names, t.shape))


def _one_tensor(owner: str, part: str, y, block: nn.Module) -> Tensor:
    if isinstance(y, Tensor):
        return y
    count = len(y) if isinstance(y, (tuple, list)) else type(y).__name__
    fix = "CBAMCombine(block, mode='sum')" if isinstance(block, CBAMBlock) else "Pick(block, 0)"
    raise type_error(owner, f"part '{part}' must return one tensor here", {"outputs": count},
                     f"Choose or combine its outputs: wrap it in {fix}.",
                     zh=f"部件 '{part}' 在这里只能返回一个张量", zh_hint=f"请选择或组合它的输出：用 {fix} 包装。")


# --------------------------------------------------------------------------- composites

class Residual(nn.Module):
    """A skip connection: ``x + block(x)`` (or ``shortcut(x) + block(x)`` with a projection shortcut).

    Shape:
        x: (B, C, H, W) (or channels-last when the block is)
        out: same as block(x), which must equal x's shape (or shortcut(x)'s)

    Args:
        block: One-input, one-output module that keeps the shape of x.
        shortcut: Optional module on the skip path, e.g. ``ChannelAdapter(C, C_out)`` when the
            block changes the channel count (ResNet's projection shortcut).

    Example:
        >>> import torch
        >>> Residual(SAFM(8))(torch.randn(1, 8, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(self, block: nn.Module, *, shortcut: nn.Module | None = None):
        super().__init__()
        owner = f"Residual({type(block).__name__})"
        _named(owner, (block,), {})
        p = ports(block)
        if len(p.ins) != 1:
            raise value_error(owner, "x + block(x) needs a block with one input", {"inputs": len(p.ins)},
                              "Fuse the inputs first, e.g. Parallel(branch_a, branch_b, fuse=block).",
                              zh="x + block(x) 要求模块只有一个输入",
                              zh_hint="请先融合多个输入，例如 Parallel(分支a, 分支b, fuse=模块)。")
        _check_single_out(owner, "block", p, block)
        skip = ports(shortcut) if shortcut is not None else Ports((p.ins[0],), (p.ins[0],), p.in_layout, p.in_layout)
        if None not in (skip.outs[0], p.outs[0]) and skip.outs[0] != p.outs[0]:
            a, b = skip.ins[0] or p.ins[0], p.outs[0]
            raise value_error(owner, "the block must give as many channels as the skip path carries, so the two "
                              "can be added", {"skip channels": skip.outs[0], "block out channels": p.outs[0]},
                              f"Give the skip path a projection: Residual(block, shortcut=ChannelAdapter({a}, {b})).",
                              zh="模块输出的通道数必须等于跳连路径的通道数，二者才能相加",
                              zh_hint=f"给跳连加投影：Residual(block, shortcut=ChannelAdapter({a}, {b}))。")
        self.block = block
        self.shortcut = shortcut
        self.layout = p.in_layout if p.in_layout != "any" else "nchw"
        self._owner = owner

    def _ports(self) -> Ports:
        p = ports(self.block)
        return Ports(p.ins, p.outs, p.in_layout, p.out_layout)

    def forward(self, x: Tensor) -> Tensor:
        lay = self.layout
        note(x, _spec(x, lay), zh="残差：保留输入 x，留给跳连路径", en="residual: keep the input x for the skip path")
        try:
            y = _one_tensor(self._owner, "block", self.block(x), self.block)
        except (ValueError, TypeError) as e:
            _reraise_in(e, self._owner, f"残差块 {self._owner}")
        note(y, _spec(y, lay, x, lay, "'"), zh="残差：主路径 F(x)", en="residual: the main path F(x)")
        skip = x
        if self.shortcut is not None:
            skip = self.shortcut(x)
            note(skip, _spec(skip, lay, x, lay, "'"), zh="残差：跳连路径上的投影 P(x)",
                 en="residual: the projection P(x) on the skip path")
        if y.shape != skip.shape:
            fix = (f"Residual(block, shortcut=ChannelAdapter({skip.shape[1]}, {y.shape[1]}))"
                   if y.ndim == 4 and y.shape[2:] == skip.shape[2:]
                   else "make the block keep H and W (e.g. padding=1 for a 3x3 conv)")
            raise shape_error(self._owner, "the block's output must have the shape of the skip path to be added",
                              {"skip.shape": tuple(skip.shape), "block(x).shape": tuple(y.shape)}, f"Fix: {fix}.",
                              zh="模块输出必须与跳连路径形状相同才能相加", zh_hint=f"修正：{fix}。")
        out = skip + y
        if self.shortcut is None:
            note(out, _spec(out, lay, x, lay, "'"), zh="残差：把输入加回来，x + F(x)",
                 en="residual: add the input back, x + F(x)")
        else:
            note(out, _spec(out, lay, x, lay, "'"), zh="残差：把投影后的输入加回来，P(x) + F(x)",
                 en="residual: add the projected input back, P(x) + F(x)")
        return out


class Series(nn.Module):
    """Blocks in a chain: the output of each part is the input of the next.

    Parts are named after their classes (``safm``, ``mfe``, ``mfe_2``) or by keyword, and those
    names are the module paths in a trace, a ``state_dict`` and a graph. The first part may take
    several inputs (e.g. MSFBlock); later parts take one.

    Shape:
        inputs: what the first part takes
        out: what the last part gives

    Example:
        >>> import torch
        >>> net = Series(SAFM(8), MFEBlock(8, [2, 4, 8])).eval()
        >>> [name for name, _ in net.named_children()], net(torch.randn(1, 8, 16, 16)).shape
        (['safm', 'mfe'], torch.Size([1, 8, 16, 16]))
    """

    def __init__(self, *blocks: nn.Module, **named: nn.Module):
        super().__init__()
        parts = _named("Series", blocks, named)
        items = list(parts.items())
        for (a, block_a), (b, block_b) in zip(items, items[1:]):
            pa = ports(block_a)
            _check_single_out("Series", a, pa, block_a)
            _check_link("Series", a, pa, b, ports(block_b), block_b)
        for name, block in items:
            self.add_module(name, block)

    def _ports(self) -> Ports:
        parts = list(self.children())
        first, last = ports(parts[0]), ports(parts[-1])
        return Ports(first.ins, last.outs, first.in_layout, last.out_layout)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int | str) -> nn.Module:
        return self._modules[index] if isinstance(index, str) else list(self._modules.values())[index]

    def forward(self, *inputs: Tensor):
        layout = ports(self).in_layout
        ref = inputs[0]
        note(ref, _spec(ref, layout), zh="串联：输入进入第一个部件", en="series: the input enters the first part")
        items = list(self._modules.items())
        y = inputs
        for i, (name, part) in enumerate(items, start=1):
            try:
                out = part(*y)
            except (ValueError, TypeError) as e:
                _reraise_in(e, f"Series part {i} '{name}'", f"串联第 {i} 个部件 '{name}'")
            if i == len(items):
                y = out
                break
            out = _one_tensor("Series", name, out, part)
            p = ports(part)
            nxt = items[i][0]
            note(out, _spec(out, p.out_layout, ref, layout, str(i)),
                 zh=f"串联：'{name}' 的输出送入 '{nxt}'", en=f"series: the output of '{name}' feeds '{nxt}'")
            y = (out,)
        if isinstance(y, Tensor):
            note(y, _spec(y, ports(items[-1][1]).out_layout, ref, layout, str(len(items))),
                 zh=f"串联：最后一个部件 '{items[-1][0]}' 的输出",
                 en=f"series: output of the last part '{items[-1][0]}'")
        return y


class Parallel(nn.Module):
    """Branches that read the same input, fused into one output.

    Fusions (``fuse=``):

    * ``"add"``: the branch outputs are summed (they must have the same shape).
    * ``"concat"``: concatenated on channels, then a 1x1 conv (``fuse``) maps them back to the
      input's C channels (so the result can go into a Residual).
    * ``"gated"``: the note's GatedFusion (exactly 2 branches). It is channels-last, so it is
      wrapped in `ChannelsLast`, which permutes NCHW to (B, H, W, C) and back.
    * ``"msf"``: MSFBlock, which fuses exactly 4 maps with one weight per channel and map. With
      fewer branches the free slots are filled according to ``pad``:
      ``"input"`` (default) puts the block input x there, so the fusion can choose to keep x (a
      learned skip); ``"zeros"`` puts zero maps there: they still take a share of the softmax
      (at least 0.109 each with the note's weighting), so the output shrinks;
      ``"repeat"`` repeats the last branch, which then gets two weights.
    * an `nn.Module` taking one tensor per branch (e.g. ``MSFCoord(C)``, ``MSAA(...)``); a
      module with more inputs than branches is padded as for ``"msf"``.

    Shape:
        x: (B, C, H, W)
        out: (B, C, H, W) for add / concat / gated / msf; the fusion module's output otherwise

    Args:
        *branches: One-input modules (named after their classes), or give them by keyword.
        fuse: One of ``"add"``, ``"concat"``, ``"gated"``, ``"msf"`` or a module.
        pad: How to fill free inputs of a fusion module: ``"input"``, ``"zeros"`` or ``"repeat"``.
        channels: C, when the branches' channels cannot be read from them.

    Example:
        >>> import torch
        >>> net = Parallel(SAFM(8), OSRAttention(8), fuse="gated")
        >>> net(torch.randn(1, 8, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(self, *branches: nn.Module, fuse: str | nn.Module = "add", pad: str = "input",
                 channels: int | None = None, **named: nn.Module):
        super().__init__()
        parts = _named("Parallel", branches, named)
        self.pad = _choice("Parallel", "pad", pad, MSF_PADS)
        if channels is not None:
            require_int("Parallel", "channels", channels)
        ins, outs = set(), []
        for name, block in parts.items():
            p = ports(block)
            if len(p.ins) != 1:
                raise value_error("Parallel", f"branch '{name}' takes {len(p.ins)} inputs, but every branch gets "
                                  "the one input x", {"branch": name, "inputs": len(p.ins)},
                                  "Use one-input blocks as branches; a multi-input block can be the fuse=.",
                                  zh=f"分支 '{name}' 需要 {len(p.ins)} 个输入，但每个分支只拿到同一个输入 x",
                                  zh_hint="分支请用单输入模块；多输入模块可以作为 fuse=。")
            _check_single_out("Parallel", name, p, block)
            if p.in_layout == "channels_last":
                raise value_error("Parallel", f"branch '{name}' is channels-last but the branches read NCHW x",
                                  {"branch": name, "layout": p.in_layout},
                                  f"Wrap it: ChannelsLast({type(block).__name__}(...)).",
                                  zh=f"分支 '{name}' 是 channels-last 布局，而分支读取的是 NCHW 的 x",
                                  zh_hint=f"请包装：ChannelsLast({type(block).__name__}(...))。")
            if p.ins[0] is not None:
                ins.add(p.ins[0])
            outs.append(p.outs[0])
        if channels is not None:
            ins.add(channels)
        if len(ins) > 1:
            raise value_error("Parallel", "all branches must take the same input channels (they read the same x)",
                              {"branch in channels": sorted(ins)}, "Build every branch for the same C.",
                              zh="所有分支的输入通道数必须相同（它们读取同一个 x）",
                              zh_hint="请把每个分支都按同一个 C 构建。")
        self.in_channels = next(iter(ins)) if ins else None
        self.branches = nn.ModuleDict(parts)
        n = len(parts)
        if not isinstance(fuse, (str, nn.Module)) or (isinstance(fuse, str) and fuse not in FUSIONS):
            raise value_error("Parallel", "fuse must be 'add', 'concat', 'gated', 'msf' or an nn.Module",
                              {"fuse": fuse if isinstance(fuse, str) else type(fuse).__name__},
                              "Example: fuse='msf' or fuse=MSFCoord(32).",
                              zh="fuse 只能是 'add'、'concat'、'gated'、'msf' 或 nn.Module",
                              zh_hint="例如 fuse='msf' 或 fuse=MSFCoord(32)。")
        self.mode = fuse if isinstance(fuse, str) else "module"
        known = [c for c in outs if c is not None]
        C = self.in_channels
        if fuse == "add":
            if len(set(known)) > 1:
                raise value_error("Parallel", "fuse='add' needs branches with the same output channels",
                                  {"branch out channels": dict(zip(parts, outs))},
                                  "Use fuse='concat', or add ChannelAdapter(...) after the odd branch.",
                                  zh="fuse='add' 要求各分支输出通道数相同",
                                  zh_hint="改用 fuse='concat'，或在不一致的分支后加 ChannelAdapter(...)。")
            self.fuse = None
        elif fuse == "concat":
            if len(known) != n or C is None:
                raise value_error("Parallel", "fuse='concat' must know every branch's output channels and C to "
                                  "build its 1x1 conv", {"branch out channels": dict(zip(parts, outs)), "C": C},
                                  "Pass channels=C, and use branches whose channels can be read (or ChannelAdapter).",
                                  zh="fuse='concat' 需要知道每个分支的输出通道数和 C，才能构建 1×1 卷积",
                                  zh_hint="请传入 channels=C。")
            self.fuse = nn.Conv2d(sum(known), C, 1)
        else:
            if fuse == "gated":
                if n != 2:
                    raise value_error("Parallel", "fuse='gated' (GatedFusion) fuses exactly 2 branches",
                                      {"branches": n}, "Use 2 branches, or fuse='msf' for up to 4.",
                                      zh="fuse='gated'（门控融合）只能融合 2 个分支",
                                      zh_hint="请用 2 个分支，或用 fuse='msf'（最多 4 个）。")
                fuse = ChannelsLast(GatedFusion(self._fuse_channels("gated", known, C)))
            elif fuse == "msf":
                fuse = MSFBlock(self._fuse_channels("msf", known, C))
            fp = ports(fuse)
            if fp.in_layout == "channels_last":
                raise value_error("Parallel", "the fusion module is channels-last but the branches give NCHW maps",
                                  {"fuse": type(fuse).__name__, "layout": fp.in_layout},
                                  f"Wrap it: fuse=ChannelsLast({type(fuse).__name__}(...)).",
                                  zh="融合模块是 channels-last 布局，而分支输出 NCHW",
                                  zh_hint="请用 ChannelsLast(...) 包装。")
            if n > len(fp.ins):
                raise value_error("Parallel", f"the fusion module takes at most {len(fp.ins)} inputs",
                                  {"fuse": type(fuse).__name__, "branches": n},
                                  f"Use at most {len(fp.ins)} branches, or fuse='concat'.",
                                  zh=f"融合模块最多接收 {len(fp.ins)} 个输入",
                                  zh_hint="请减少分支数，或改用 fuse='concat'。")
            for name, c, want in zip(parts, outs, fp.ins):
                if None not in (c, want) and c != want:
                    raise value_error("Parallel", "each branch must give the channels the fusion module takes",
                                      {"branch": name, "branch out": c, "fuse in": want},
                                      f"Add ChannelAdapter({c}, {want}) after branch '{name}', or rebuild the fusion.",
                                      zh="每个分支的输出通道数必须等于融合模块的输入通道数",
                                      zh_hint=f"在分支 '{name}' 后加 ChannelAdapter({c}, {want})，或重建融合模块。")
            self.n_fuse_inputs = len(fp.ins)
            self.fuse = fuse

    @staticmethod
    def _fuse_channels(mode: str, known: list[int], C: int | None) -> int:
        if len(set(known)) > 1 or (not known and C is None):
            raise value_error("Parallel", f"fuse='{mode}' needs branches with one common, known channel count",
                              {"branch out channels": known, "C": C}, "Pass channels=C or add ChannelAdapter(...).",
                              zh=f"fuse='{mode}' 要求各分支输出相同且已知的通道数",
                              zh_hint="请传入 channels=C 或加 ChannelAdapter(...)。")
        return known[0] if known else C

    def _ports(self) -> Ports:
        if self.mode in ("add", "concat", "gated", "msf"):
            out = self.in_channels if self.mode != "add" else ports(next(iter(self.branches.values()))).outs[0]
        else:
            out = ports(self.fuse).outs[0]
        return Ports((self.in_channels,), (out,), "nchw", "nchw")

    def forward(self, x: Tensor) -> Tensor:
        note(x, _spec(x), zh="并联：同一个输入 x 送进每个分支", en="parallel: the same input x goes to every branch")
        outs = []
        for i, (name, branch) in enumerate(self.branches.items(), start=1):
            try:
                y = _one_tensor("Parallel", name, branch(x), branch)
            except (ValueError, TypeError) as e:
                _reraise_in(e, f"Parallel branch '{name}'", f"并联分支 '{name}'")
            note(y, _spec(y, "nchw", x, "nchw", str(i)), zh=f"并联：分支 '{name}' 的输出",
                 en=f"parallel: output of branch '{name}'")
            outs.append(y)
        if self.mode == "add":
            shapes = {tuple(o.shape) for o in outs}
            if len(shapes) > 1:
                raise shape_error("Parallel", "fuse='add' needs branch outputs of the same shape",
                                  {"shapes": sorted(shapes)}, "Use fuse='concat' or adapt the branches.",
                                  zh="fuse='add' 要求各分支输出形状相同", zh_hint="改用 fuse='concat' 或调整分支。")
            out = outs[0]
            for o in outs[1:]:
                out = out + o
            note(out, _spec(out, "nchw", x, "nchw", "+"), zh="融合：各分支逐元素相加",
                 en="fuse: add the branches element-wise")
            return out
        if self.mode == "concat":
            cat = torch.cat(outs, dim=1)
            note(cat, _spec(cat, "nchw", x, "nchw", "cat"), zh="融合：在通道维拼接各分支",
                 en="fuse: concatenate the branches on channels")
            out = self.fuse(cat)
            note(out, _spec(out), zh="融合：1×1 卷积把通道压回 C", en="fuse: a 1x1 conv maps the channels back to C")
            return out
        free = self.n_fuse_inputs - len(outs)
        if free:
            fill = {"input": lambda: x, "zeros": lambda: torch.zeros_like(outs[-1]), "repeat": lambda: outs[-1]}
            outs = outs + [fill[self.pad]() for _ in range(free)]
            note(outs[-1], _spec(outs[-1]),
                 zh=f"融合模块需要 {self.n_fuse_inputs} 个输入：空位用 pad='{self.pad}' 填充",
                 en=f"the fusion takes {self.n_fuse_inputs} inputs: the free slots get pad='{self.pad}'")
        try:
            out = self.fuse(*outs)
        except (ValueError, TypeError) as e:
            _reraise_in(e, "Parallel fuse", "并联融合模块")
        out = _one_tensor("Parallel", "fuse", out, self.fuse)
        note(out, _spec(out, "nchw", x, "nchw", "'"), zh=f"融合：{type(self.fuse).__name__} 合成一个输出",
             en=f"fuse: {type(self.fuse).__name__} merges the branches into one output")
        return out


# --------------------------------------------------------------------------- adapters

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
        self.mode = _choice("CBAMCombine", "mode", mode, CBAM_MODES)
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
        note(picked, _spec(picked), zh=f"取出第 {self.index} 个输出", en=f"keep output number {self.index}")
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
        self.pool = _choice("AtScale", "pool", pool, ("avg", "max"))
        self.up = _choice("AtScale", "up", up, ("nearest", "bilinear"))
        _check_single_out("AtScale", "block", ports(block), block)
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
        y = _one_tensor("AtScale", "block", self.block(small), self.block)
        note(y, _spec(y, "nchw", small, "nchw", "'").replace("H", "h").replace("W", "w"), h=size[0], w=size[1],
             zh="在低分辨率上运行内部模块", en="the inner block runs at the low resolution")
        kw = {"align_corners": False} if self.up == "bilinear" else {}
        out = F.interpolate(y, size=(H, W), mode=self.up, **kw)
        note(out, _spec(out, "nchw", x, "nchw", "'"), zh=f"上采样：{self.up} 插值回 H×W",
             en=f"up: {self.up} interpolation back to H x W")
        return out
