"""Composites: a skip connection (`Residual`), a chain (`Series`) and branches with a fusion (`Parallel`).

Every composite is a plain `nn.Module`, so `fusion_edu.trace`, torchview and `state_dict` work on it.
The wrappers write their own `note()` rows (zh + en), so a trace of a composite shows the wiring
("residual: add the input back") between the rows of the blocks inside it. Parts are checked
when the composite is built, from their `ports`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..blocks import GatedFusion, MSFBlock
from ..errors import require_int, shape_error, value_error
from ..trace import note
from .adapters import ChannelsLast
from .ports import (
    Ports,
    check_link,
    check_single_out,
    choice,
    named_parts,
    one_tensor,
    ports,
    reraise_in,
    wiring_spec,
)

__all__ = ["Residual", "Series", "Parallel", "FUSIONS", "MSF_PADS"]

FUSIONS = ("add", "concat", "gated", "msf")
MSF_PADS = ("input", "zeros", "repeat")


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
        >>> from fusion_edu.blocks import SAFM
        >>> Residual(SAFM(8))(torch.randn(1, 8, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(self, block: nn.Module, *, shortcut: nn.Module | None = None):
        super().__init__()
        owner = f"Residual({type(block).__name__})"
        named_parts(owner, (block,), {})
        p = ports(block)
        if len(p.ins) != 1:
            raise value_error(owner, "x + block(x) needs a block with one input", {"inputs": len(p.ins)},
                              "Fuse the inputs first, e.g. Parallel(branch_a, branch_b, fuse=block).",
                              zh="x + block(x) 要求模块只有一个输入",
                              zh_hint="请先融合多个输入，例如 Parallel(分支a, 分支b, fuse=模块)。")
        check_single_out(owner, "block", p, block)
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
        note(x, wiring_spec(x, lay), zh="残差：保留输入 x，留给跳连路径",
             en="residual: keep the input x for the skip path")
        try:
            y = one_tensor(self._owner, "block", self.block(x), self.block)
        except (ValueError, TypeError) as e:
            reraise_in(e, self._owner, f"残差块 {self._owner}")
        note(y, wiring_spec(y, lay, x, lay, "'"), zh="残差：主路径 F(x)", en="residual: the main path F(x)")
        skip = x
        if self.shortcut is not None:
            skip = self.shortcut(x)
            note(skip, wiring_spec(skip, lay, x, lay, "'"), zh="残差：跳连路径上的投影 P(x)",
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
            note(out, wiring_spec(out, lay, x, lay, "'"), zh="残差：把输入加回来，x + F(x)",
                 en="residual: add the input back, x + F(x)")
        else:
            note(out, wiring_spec(out, lay, x, lay, "'"), zh="残差：把投影后的输入加回来，P(x) + F(x)",
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
        >>> from fusion_edu.blocks import SAFM, MFEBlock
        >>> net = Series(SAFM(8), MFEBlock(8, [2, 4, 8])).eval()
        >>> [name for name, _ in net.named_children()], net(torch.randn(1, 8, 16, 16)).shape
        (['safm', 'mfe'], torch.Size([1, 8, 16, 16]))
    """

    def __init__(self, *blocks: nn.Module, **named: nn.Module):
        super().__init__()
        parts = named_parts("Series", blocks, named)
        items = list(parts.items())
        for (a, block_a), (b, block_b) in zip(items, items[1:]):
            pa = ports(block_a)
            check_single_out("Series", a, pa, block_a)
            check_link("Series", a, pa, b, ports(block_b), block_b)
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
        note(ref, wiring_spec(ref, layout), zh="串联：输入进入第一个部件", en="series: the input enters the first part")
        items = list(self._modules.items())
        y = inputs
        for i, (name, part) in enumerate(items, start=1):
            try:
                out = part(*y)
            except (ValueError, TypeError) as e:
                reraise_in(e, f"Series part {i} '{name}'", f"串联第 {i} 个部件 '{name}'")
            if i == len(items):
                y = out
                break
            out = one_tensor("Series", name, out, part)
            p = ports(part)
            nxt = items[i][0]
            note(out, wiring_spec(out, p.out_layout, ref, layout, str(i)),
                 zh=f"串联：'{name}' 的输出送入 '{nxt}'", en=f"series: the output of '{name}' feeds '{nxt}'")
            y = (out,)
        if isinstance(y, Tensor):
            note(y, wiring_spec(y, ports(items[-1][1]).out_layout, ref, layout, str(len(items))),
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
        >>> from fusion_edu.blocks import SAFM, OSRAttention
        >>> net = Parallel(SAFM(8), OSRAttention(8), fuse="gated")
        >>> net(torch.randn(1, 8, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(self, *branches: nn.Module, fuse: str | nn.Module = "add", pad: str = "input",
                 channels: int | None = None, **named: nn.Module):
        super().__init__()
        parts = named_parts("Parallel", branches, named)
        self.pad = choice("Parallel", "pad", pad, MSF_PADS)
        if channels is not None:
            require_int("Parallel", "channels", channels)
        outs = {name: self._branch_out(name, block) for name, block in parts.items()}
        self.in_channels = self._common_input(parts, channels)
        self.branches = nn.ModuleDict(parts)
        if not isinstance(fuse, nn.Module) and fuse not in FUSIONS:
            raise value_error("Parallel", "fuse must be 'add', 'concat', 'gated', 'msf' or an nn.Module",
                              {"fuse": fuse if isinstance(fuse, str) else type(fuse).__name__},
                              "Example: fuse='msf' or fuse=MSFCoord(32).",
                              zh="fuse 只能是 'add'、'concat'、'gated'、'msf' 或 nn.Module",
                              zh_hint="例如 fuse='msf' 或 fuse=MSFCoord(32)。")
        self.mode = fuse if isinstance(fuse, str) else "module"
        self.n_fuse_inputs = len(parts)
        if self.mode == "add":
            self._check_add(outs)
            self.fuse = None
        elif self.mode == "concat":
            self.fuse = self._concat_conv(outs)
        else:
            self.fuse = self._fusion_module(fuse, outs)

    @staticmethod
    def _branch_out(name: str, block: nn.Module) -> int | None:
        """Checks one branch (one NCHW input, one output) and returns its output channels."""
        p = ports(block)
        if len(p.ins) != 1:
            raise value_error("Parallel", f"branch '{name}' takes {len(p.ins)} inputs, but every branch gets "
                              "the one input x", {"branch": name, "inputs": len(p.ins)},
                              "Use one-input blocks as branches; a multi-input block can be the fuse=.",
                              zh=f"分支 '{name}' 需要 {len(p.ins)} 个输入，但每个分支只拿到同一个输入 x",
                              zh_hint="分支请用单输入模块；多输入模块可以作为 fuse=。")
        check_single_out("Parallel", name, p, block)
        if p.in_layout == "channels_last":
            raise value_error("Parallel", f"branch '{name}' is channels-last but the branches read NCHW x",
                              {"branch": name, "layout": p.in_layout},
                              f"Wrap it: ChannelsLast({type(block).__name__}(...)).",
                              zh=f"分支 '{name}' 是 channels-last 布局，而分支读取的是 NCHW 的 x",
                              zh_hint=f"请包装：ChannelsLast({type(block).__name__}(...))。")
        return p.outs[0]

    @staticmethod
    def _common_input(parts: dict[str, nn.Module], channels: int | None) -> int | None:
        ins = {ports(block).ins[0] for block in parts.values()} | {channels}
        ins.discard(None)
        if len(ins) > 1:
            raise value_error("Parallel", "all branches must take the same input channels (they read the same x)",
                              {"branch in channels": sorted(ins)}, "Build every branch for the same C.",
                              zh="所有分支的输入通道数必须相同（它们读取同一个 x）",
                              zh_hint="请把每个分支都按同一个 C 构建。")
        return next(iter(ins)) if ins else None

    @staticmethod
    def _check_add(outs: dict[str, int | None]) -> None:
        if len({c for c in outs.values() if c is not None}) > 1:
            raise value_error("Parallel", "fuse='add' needs branches with the same output channels",
                              {"branch out channels": outs},
                              "Use fuse='concat', or add ChannelAdapter(...) after the odd branch.",
                              zh="fuse='add' 要求各分支输出通道数相同",
                              zh_hint="改用 fuse='concat'，或在不一致的分支后加 ChannelAdapter(...)。")

    def _concat_conv(self, outs: dict[str, int | None]) -> nn.Conv2d:
        if None in outs.values() or self.in_channels is None:
            raise value_error("Parallel", "fuse='concat' must know every branch's output channels and C to "
                              "build its 1x1 conv", {"branch out channels": outs, "C": self.in_channels},
                              "Pass channels=C, and use branches whose channels can be read (or ChannelAdapter).",
                              zh="fuse='concat' 需要知道每个分支的输出通道数和 C，才能构建 1×1 卷积",
                              zh_hint="请传入 channels=C。")
        return nn.Conv2d(sum(outs.values()), self.in_channels, 1)

    def _fusion_module(self, fuse: str | nn.Module, outs: dict[str, int | None]) -> nn.Module:
        """The module that fuses the branches: GatedFusion ('gated'), MSFBlock ('msf') or the given one."""
        if fuse in ("gated", "msf"):
            known = {c for c in outs.values() if c is not None} or {self.in_channels} - {None}
            if len(known) != 1:
                raise value_error("Parallel", f"fuse='{fuse}' needs branches with one common, known channel count",
                                  {"branch out channels": outs, "C": self.in_channels},
                                  "Pass channels=C or add ChannelAdapter(...).",
                                  zh=f"fuse='{fuse}' 要求各分支输出相同且已知的通道数",
                                  zh_hint="请传入 channels=C 或加 ChannelAdapter(...)。")
            C = known.pop()
            if fuse == "gated" and len(outs) != 2:
                raise value_error("Parallel", "fuse='gated' (GatedFusion) fuses exactly 2 branches",
                                  {"branches": len(outs)}, "Use 2 branches, or fuse='msf' for up to 4.",
                                  zh="fuse='gated'（门控融合）只能融合 2 个分支",
                                  zh_hint="请用 2 个分支，或用 fuse='msf'（最多 4 个）。")
            fuse = ChannelsLast(GatedFusion(C)) if fuse == "gated" else MSFBlock(C)
        fp = ports(fuse)
        if fp.in_layout == "channels_last":
            raise value_error("Parallel", "the fusion module is channels-last but the branches give NCHW maps",
                              {"fuse": type(fuse).__name__, "layout": fp.in_layout},
                              f"Wrap it: fuse=ChannelsLast({type(fuse).__name__}(...)).",
                              zh="融合模块是 channels-last 布局，而分支输出 NCHW",
                              zh_hint="请用 ChannelsLast(...) 包装。")
        if len(outs) > len(fp.ins):
            raise value_error("Parallel", f"the fusion module takes at most {len(fp.ins)} inputs",
                              {"fuse": type(fuse).__name__, "branches": len(outs)},
                              f"Use at most {len(fp.ins)} branches, or fuse='concat'.",
                              zh=f"融合模块最多接收 {len(fp.ins)} 个输入",
                              zh_hint="请减少分支数，或改用 fuse='concat'。")
        for (name, c), want in zip(outs.items(), fp.ins):
            if None not in (c, want) and c != want:
                raise value_error("Parallel", "each branch must give the channels the fusion module takes",
                                  {"branch": name, "branch out": c, "fuse in": want},
                                  f"Add ChannelAdapter({c}, {want}) after branch '{name}', or rebuild the fusion.",
                                  zh="每个分支的输出通道数必须等于融合模块的输入通道数",
                                  zh_hint=f"在分支 '{name}' 后加 ChannelAdapter({c}, {want})，或重建融合模块。")
        self.n_fuse_inputs = len(fp.ins)
        return fuse

    def _ports(self) -> Ports:
        if self.mode in ("add", "concat", "gated", "msf"):
            out = self.in_channels if self.mode != "add" else ports(next(iter(self.branches.values()))).outs[0]
        else:
            out = ports(self.fuse).outs[0]
        return Ports((self.in_channels,), (out,), "nchw", "nchw")

    def forward(self, x: Tensor) -> Tensor:
        note(x, wiring_spec(x), zh="并联：同一个输入 x 送进每个分支",
             en="parallel: the same input x goes to every branch")
        outs = []
        for i, (name, branch) in enumerate(self.branches.items(), start=1):
            try:
                y = one_tensor("Parallel", name, branch(x), branch)
            except (ValueError, TypeError) as e:
                reraise_in(e, f"Parallel branch '{name}'", f"并联分支 '{name}'")
            note(y, wiring_spec(y, "nchw", x, "nchw", str(i)), zh=f"并联：分支 '{name}' 的输出",
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
            note(out, wiring_spec(out, "nchw", x, "nchw", "+"), zh="融合：各分支逐元素相加",
                 en="fuse: add the branches element-wise")
            return out
        if self.mode == "concat":
            cat = torch.cat(outs, dim=1)
            note(cat, wiring_spec(cat, "nchw", x, "nchw", "cat"), zh="融合：在通道维拼接各分支",
                 en="fuse: concatenate the branches on channels")
            out = self.fuse(cat)
            note(out, wiring_spec(out), zh="融合：1×1 卷积把通道压回 C",
                 en="fuse: a 1x1 conv maps the channels back to C")
            return out
        free = self.n_fuse_inputs - len(outs)
        if free:
            fill = {"input": lambda: x, "zeros": lambda: torch.zeros_like(outs[-1]), "repeat": lambda: outs[-1]}
            outs = outs + [fill[self.pad]() for _ in range(free)]
            note(outs[-1], wiring_spec(outs[-1]),
                 zh=f"融合模块需要 {self.n_fuse_inputs} 个输入：空位用 pad='{self.pad}' 填充",
                 en=f"the fusion takes {self.n_fuse_inputs} inputs: the free slots get pad='{self.pad}'")
        try:
            out = self.fuse(*outs)
        except (ValueError, TypeError) as e:
            reraise_in(e, "Parallel fuse", "并联融合模块")
        out = one_tensor("Parallel", "fuse", out, self.fuse)
        note(out, wiring_spec(out, "nchw", x, "nchw", "'"), zh=f"融合：{type(self.fuse).__name__} 合成一个输出",
             en=f"fuse: {type(self.fuse).__name__} merges the branches into one output")
        return out


