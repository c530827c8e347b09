"""Stitching (缝合): insert a block into a host network at a named stage, with the adapters it needs.

``stitch(resnet18(), at="layer3", block=MSAA(448, 256), sources=["layer1", "layer2", "layer3"])`` puts
MSAA after ResNet-18's third stage and feeds it the outputs of the first three stages, as CM-UNet
feeds its encoder scales: each source is resized to the stage's H x W and given the channels the
block takes by a 1x1 conv, and the block's output gets a 1x1 conv back to the stage's channels, so
the rest of the host runs as before. The host itself is never changed: the result holds a copy.

The `Stitched` result reports the parameters and FLOPs before and after, the adapters it added,
and the trace around the insertion point (the rows of the inserted part; the host's own layers have
no `note` calls).
"""

from __future__ import annotations

import copy
import functools
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import type_error, value_error
from ..lang import pick, resolve
from ..shapeonly import count_flops, meta_twin
from ..trace import Trace, note, section, trace
from .adapters import ChannelAdapter
from .ports import ports

__all__ = ["stitch", "Stitched", "StitchPoint", "resize_to"]


class StitchPoint(nn.Module):
    """A host stage followed by an inserted block: ``out = adapt_out(block(adapt_i(source_i)))``.

    Source ``at`` is this stage's own output; other sources are earlier stages, whose outputs are
    kept by forward hooks on them while the host runs (the host must call them before this stage).

    Shape:
        x: what the stage takes
        out: what the stage gives (same channels and size), so the host's next layer fits
    """

    def __init__(self, stage: nn.Module, block: nn.Module, at: str, sources: list[str],
                 adapters: list[nn.Module], out_adapter: nn.Module | None, residual: bool):
        super().__init__()
        self.stage = stage
        self.adapters = nn.ModuleList(adapters)
        self.block = block
        self.out_adapter = out_adapter
        self.at = at
        self.sources = sources
        self.residual = residual
        self._kept: dict[str, Tensor] = {}

    def keep(self, name: str, _module: nn.Module, _args: Any, output: Any) -> None:
        """Forward hook on an earlier source stage: remembers its output for this forward pass."""
        if isinstance(output, Tensor):
            self._kept[name] = output

    def forward(self, x: Tensor) -> Tensor:
        y = self.stage(x)
        section("缝合点", "stitch point")
        note(y, "B C H W", f"宿主 {self.at} 的输出", f"the host's {self.at} output")
        inputs = []
        for i, (name, adapter) in enumerate(zip(self.sources, self.adapters), start=1):
            t = y if name == self.at else self._kept.pop(name)
            if t.shape[-2:] != y.shape[-2:]:
                t = resize_to(t, tuple(y.shape[-2:]))
                note(t, f"B C{i} H W", f"输入 {i}（{name}）缩放到 H×W", f"input {i} ({name}) resized to H x W")
            if not isinstance(adapter, nn.Identity):
                t = adapter(t)
                note(t, f"B C{i}' H W", f"输入 {i}：1×1 卷积调到模块的通道数", f"input {i}: 1x1 conv to its channels")
            inputs.append(t)
        z = self.block(*inputs)
        if self.out_adapter is not None:
            z = self.out_adapter(z)
        if z.shape[-2:] != y.shape[-2:]:
            z = F.interpolate(z, size=y.shape[-2:], mode="nearest")
        note(z, "B C H W", "插入块的输出，回到宿主的通道和尺寸", "the block's output, back to the host's shape")
        if self.residual:
            z = y + z
            note(z, "B C H W", "残差：加上宿主原来的输出", "residual: the host's own output added")
        return z


def resize_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """A map resized to H x W: adaptive average pooling down, bilinear interpolation up (a resize adapter)."""
    if x.shape[-2:] == tuple(size):
        return x
    if x.shape[-2] >= size[0] and x.shape[-1] >= size[1]:
        return F.adaptive_avg_pool2d(x, size)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


@dataclass
class Stitched:
    """The result of `stitch`: the stitched model and what the stitch changed.

    Attributes:
        model: A copy of the host with the block inserted (the host is unchanged).
        at: The stage after which the block runs.
        added: ``(zh, en)`` descriptions of the adapters added.
        params: ``(before, after)`` parameter counts.
        flops: ``(before, after)`` FLOPs of one forward pass at `input_shape`.
        input_shape: The host input used to measure.
        trace: The trace around the insertion point (on meta, at `input_shape`).
    """

    model: nn.Module
    at: str
    added: list[tuple[str, str]]
    params: tuple[int, int]
    flops: tuple[int, int]
    input_shape: tuple[int, ...]
    trace: Trace = field(repr=False)

    def summary(self, lang: str | None = None) -> str:
        lang = resolve(lang, "Stitched")
        (p0, p1), (f0, f1) = self.params, self.flops
        zh = (f"在 {self.at} 之后缝合：参数 {p0:,} → {p1:,}（{p1 - p0:+,}），"
              f"计算量 {f0 / 1e9:.3f} → {f1 / 1e9:.3f} GFLOPs（{(f1 - f0) / 1e9:+.3f}），输入 {self.input_shape}")
        en = (f"stitched after {self.at}: params {p0:,} -> {p1:,} ({p1 - p0:+,}), "
              f"FLOPs {f0 / 1e9:.3f} -> {f1 / 1e9:.3f} G ({(f1 - f0) / 1e9:+.3f}), input {self.input_shape}")
        return pick(zh, en, lang, "\n")

    def to_text(self) -> str:
        lang = resolve(None)
        added = [pick(zh, en, lang) for zh, en in self.added] or [pick("（无需适配器）", "(no adapter needed)", lang)]
        return "\n".join([self.summary(), *("  + " + a for a in added), "", self.trace.to_text()])

    __str__ = to_text

    def _repr_html_(self) -> str:
        lang = resolve(None)
        items = "".join(f"<li>{html.escape(pick(zh, en, lang))}</li>" for zh, en in self.added)
        added = f"<ul>{items}</ul>" if items else ""
        summary = "<br>".join(html.escape(line) for line in self.summary().split("\n"))
        return f"<div class='fusion-edu-stitch'><b>{summary}</b>{added}{self.trace._repr_html_()}</div>"


def stitch(host: nn.Module, at: str, block: nn.Module, *, sources: Sequence[str] | None = None,
           residual: bool = False, input_shape: Sequence[int] = (1, 3, 224, 224)) -> Stitched:
    """Inserts `block` after stage `at` of `host` (a copy), adding the adapters the shapes need.

    Args:
        host: Any network whose stage `at` takes and gives one NCHW tensor (e.g. `hosts.resnet18()`).
        at: The dotted name of the stage, as in ``host.named_modules()`` (``"layer3"``, ``"layer2.1"``).
        block: The block to insert (built); a block with several inputs takes them from `sources`.
        sources: One stage name per block input, each called by the host no later than `at`
            (default: `at` for every input). A source of another size is resized to `at`'s H x W.
        residual: Add the stage's own output to the block's (``y + block(y)``) instead of replacing it.
        input_shape: The host input used to find the stages' shapes and to count FLOPs (on meta).

    Raises:
        ValueError, TypeError: A stage that does not exist or gives no single map, a source that runs
            after `at`, a block with more than one output, a channels-last block.

    Example:
        >>> from fusion_edu.blocks import SAFM
        >>> from fusion_edu.remix.hosts import SmallHost
        >>> s = stitch(SmallHost(16), at="stage2", block=SAFM(32), input_shape=(1, 3, 64, 64))
        >>> s.params[1] - s.params[0] == sum(p.numel() for p in SAFM(32).parameters()), s.added
        (True, [])
    """
    for name, value in (("host", host), ("block", block)):
        if not isinstance(value, nn.Module):
            raise type_error("stitch", f"{name} must be a built nn.Module", {name: type(value).__name__},
                             "Build it first, e.g. stitch(resnet18(), at='layer3', block=SAFM(256)).",
                             zh=f"{name} 必须是已构建的 nn.Module", zh_hint="请先构建，例如 SAFM(256)。")
    stages = dict(host.named_modules())
    if at not in stages or at == "":
        options = [n for n, m in host.named_children()]
        raise value_error("stitch", "at must name a stage of the host", {"at": at},
                          f"Stages at the top level: {options}; deeper ones use dots, e.g. '{options[-1]}.0'.",
                          zh="at 必须是宿主网络中某个阶段的名字", zh_hint=f"顶层的阶段有：{options}。")
    p = ports(block)
    sources = list(sources) if sources is not None else [at] * len(p.ins)
    if len(sources) != len(p.ins):
        raise value_error("stitch", f"the block takes {len(p.ins)} inputs, so sources must name {len(p.ins)} stages",
                          {"sources": sources}, f"Example: sources={[at] * len(p.ins)}.",
                          zh=f"该模块需要 {len(p.ins)} 个输入，sources 也要给出 {len(p.ins)} 个阶段")
    if len(p.outs) != 1:
        raise value_error("stitch", "the block must return one tensor to feed the host", {"outputs": len(p.outs)},
                          f"Wrap it: CBAMCombine({type(block).__name__}(...), mode='sum') or Pick(block, 0).",
                          zh="插入的模块必须只返回一个张量", zh_hint="请用 CBAMCombine(...) 或 Pick(...) 包装。")
    if p.in_layout == "channels_last":
        raise value_error("stitch", "the block is channels-last but the host's maps are NCHW",
                          {"block": type(block).__name__}, f"Wrap it: ChannelsLast({type(block).__name__}(...)).",
                          zh="该模块是 channels-last 布局，而宿主的特征图是 NCHW",
                          zh_hint="请用 ChannelsLast(...) 包装。")
    unknown = [s for s in sources if s not in stages or s == ""]
    if unknown:
        raise value_error("stitch", "every source must name a stage of the host", {"unknown": unknown},
                          "Use names from host.named_modules().", zh="sources 中的每一项都必须是宿主的阶段名")
    shapes, order = _stage_shapes(host, [at, *sources], tuple(input_shape))
    late = [s for s in sources if order[s] > order[at]]
    if late:
        raise value_error("stitch", f"a source must run before (or be) the stage at='{at}'", {"sources after": late},
                          "Feed the block with earlier stages only (e.g. layer1, layer2 for at='layer3').",
                          zh=f"输入来源必须在 at='{at}' 之前（或就是它）运行",
                          zh_hint="只能用更早的阶段作为输入。")
    B, C, H, W = shapes[at]
    adapters, added = [], []
    for i, (name, want) in enumerate(zip(sources, p.ins), start=1):
        _, c, h, w = shapes[name]
        if (h, w) != (H, W):  # done in forward, to whatever size the stage gives then
            added.append((f"输入 {i}（{name}）：缩放到 {at} 的尺寸（这里 {h}×{w} → {H}×{W}）",
                          f"input {i} ({name}): resized to {at}'s size (here {h}x{w} -> {H}x{W})"))
        if want is not None and want != c:
            adapters.append(nn.Conv2d(c, want, 1))
            added.append((f"输入 {i}（{name}）：1×1 卷积 {c} → {want} 通道",
                          f"input {i} ({name}): 1x1 conv {c} -> {want} channels"))
        else:
            adapters.append(nn.Identity())
    out_adapter = None
    if p.outs[0] is not None and p.outs[0] != C:
        out_adapter = ChannelAdapter(p.outs[0], C)  # a named module: torchview drops a bare Conv2d here (depth 2)
        added.append((f"输出：1×1 卷积 {p.outs[0]} → {C} 通道（回到宿主）",
                      f"output: 1x1 conv {p.outs[0]} -> {C} channels (back to the host)"))

    model = copy.deepcopy(host)
    parent_name, _, child = at.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    stage = getattr(parent, child)
    point = StitchPoint(stage, block, at, sources, adapters, out_adapter, residual)
    setattr(parent, child, point)
    for name in set(sources) - {at}:
        model.get_submodule(name).register_forward_hook(functools.partial(point.keep, name))

    x = torch.empty(tuple(input_shape), device="meta")
    before, after = meta_twin(host), meta_twin(model)
    flops = (count_flops(before.eval(), x), count_flops(after.eval(), x))
    with torch.no_grad():
        around = trace(after, x, strict=False, name=f"{type(host).__name__} + {type(block).__name__} @ {at}")
    params = (sum(q.numel() for q in host.parameters()), sum(q.numel() for q in model.parameters()))
    return Stitched(model, at, added, params, flops, tuple(input_shape), around)



def _stage_shapes(host: nn.Module, names: list[str], input_shape: tuple[int, ...]
                  ) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """The output shape of each named stage and the order in which the host first calls them (on meta)."""
    twin = meta_twin(host).eval()
    shapes: dict[str, tuple[int, ...]] = {}
    order: dict[str, int] = {}
    handles = []

    def record(name: str, _module: nn.Module, _args: Any, output: Any) -> None:
        if name in order:
            return
        order[name] = len(order)
        if not isinstance(output, Tensor) or output.ndim != 4:
            kind = type(output).__name__ if not isinstance(output, Tensor) else f"a {output.ndim}-D tensor"
            raise value_error("stitch", "a stage used by stitch must give one NCHW map", {name: kind},
                              "Pick a stage that outputs a (B, C, H, W) tensor.",
                              zh="用于缝合的阶段必须输出一个 NCHW 特征图")
        shapes[name] = tuple(output.shape)

    try:
        for name in set(names):
            handles.append(twin.get_submodule(name).register_forward_hook(functools.partial(record, name)))
        with torch.no_grad():
            twin(torch.empty(input_shape, device="meta"))
    finally:
        for h in handles:
            h.remove()
    never = sorted(set(names) - set(order))
    if never:
        raise value_error("stitch", "every stage named must run in the host's forward", {"never called": never},
                          "Pick stages the forward pass uses.", zh="所给的阶段必须在宿主的前向中被调用")
    return shapes, order
