"""What a module takes and gives (`ports`), and the wiring checks that remix composites build on.

`ports(module)` reads, in this order: a composite's own ``_ports()``, the catalog entry of a
block (``BLOCKS[key].ports``; subclasses of a catalog block use its entry), then plain PyTorch
layers (Conv2d, BatchNorm2d, Sequential). Anything else gives `Ports()`: unknown channels, any
layout. A new catalog block declares its ports in its `BlockSpec`; remix needs no edit.
"""

from __future__ import annotations

import re

from torch import Tensor, nn

from ..blocks import BLOCKS, Ports
from ..errors import type_error, value_error

__all__ = ["Ports", "ports", "short_name", "LAYOUT_NAMES"]

LAYOUT_NAMES = {"nchw": ("B", "C", "H", "W"), "channels_last": ("B", "H", "W", "C")}
_SHORT = {"OSRAttention": "osra", "MSAAChannelOnly": "msaa_channel"}


def ports(module: nn.Module) -> Ports:
    """The `Ports` of a catalog block, a remix composite or a plain layer (unknown parts give None).

    Example:
        >>> from fusion_edu.blocks import GatedFusion
        >>> ports(GatedFusion(8))
        Ports(ins=(8, 8), outs=(8,), in_layout='channels_last', out_layout='channels_last')
    """
    own = getattr(module, "_ports", None)
    if callable(own):
        return own()
    spec = next((s for s in BLOCKS.values() if type(module) is s.cls), None)
    spec = spec or next((s for s in BLOCKS.values() if isinstance(module, s.cls)), None)
    if spec is not None:
        return spec.ports(module)
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


def named_parts(owner: str, blocks: tuple[nn.Module, ...], named: dict[str, nn.Module]) -> dict[str, nn.Module]:
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


def check_single_out(owner: str, part: str, p: Ports, block: nn.Module) -> None:
    if len(p.outs) > 1:
        fix = combine_hint(block, len(p.outs))
        raise value_error(owner, f"part '{part}' returns {len(p.outs)} tensors but the next step needs one",
                          {"part": part, "outputs": len(p.outs)}, f"Choose or combine them: wrap it in {fix}.",
                          zh=f"部件 '{part}' 返回 {len(p.outs)} 个张量，而下一步只接收一个",
                          zh_hint=f"请选择或组合它们：用 {fix} 包装。")


def check_link(owner: str, a: str, pa: Ports, b: str, pb: Ports, block_b: nn.Module) -> None:
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


def choice(owner: str, name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise value_error(owner, f"{name} must be one of {options}", {name: value}, f"Example: {name}={choices[0]!r}.",
                          zh=f"{name} 只能取 {options}", zh_hint=f"例如 {name}={choices[0]!r}。")
    return value


def reraise_in(error: Exception, where: str, where_zh: str) -> None:
    """Re-raises a block's ValueError/TypeError with the composite part in front of its message."""
    try:
        wrapped = type(error)(f"{where}: {error}")
    except Exception:  # an exception class with an unusual constructor: keep the original
        raise error from None
    zh = getattr(error, "zh", "")
    wrapped.zh = f"{where_zh}：{zh}" if zh else ""
    raise wrapped from error


def axis_names(t: Tensor, layout: str) -> tuple[str, ...] | None:
    if t.ndim != 4:
        return None
    return LAYOUT_NAMES["channels_last" if layout == "channels_last" else "nchw"]


def wiring_spec(t: Tensor, layout: str = "nchw", ref: Tensor | None = None, ref_layout: str = "nchw",
                tag: str = "") -> str:
    """The spec of a wiring step: the axis names of `layout`; an axis whose size differs from `ref`'s gets `tag`."""
    names = axis_names(t, layout)
    if names is None:
        return "..."
    if ref is None or axis_names(ref, ref_layout) is None:
        return " ".join(names)
    sizes = dict(zip(axis_names(ref, ref_layout), ref.shape))
    return " ".join(n if sizes.get(n) == s else f"{n}{tag}" for n, s in zip(names, t.shape))


def one_tensor(owner: str, part: str, y, block: nn.Module) -> Tensor:
    if isinstance(y, Tensor):
        return y
    count = len(y) if isinstance(y, (tuple, list)) else type(y).__name__
    fix = combine_hint(block, count if isinstance(count, int) else 1)
    raise type_error(owner, f"part '{part}' must return one tensor here", {"outputs": count},
                     f"Choose or combine its outputs: wrap it in {fix}.",
                     zh=f"部件 '{part}' 在这里只能返回一个张量", zh_hint=f"请选择或组合它的输出：用 {fix} 包装。")




def combine_hint(block: nn.Module, outputs: int) -> str:
    name = type(block).__name__
    if outputs == 2:
        return f"CBAMCombine({name}(...), mode='sum') or Pick({name}(...), 0)"
    return f"Pick({name}(...), 0)"
