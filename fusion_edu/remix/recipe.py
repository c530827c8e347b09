"""Recipes: how to build a block or a composite from dims (B, C, H, W), on any device.

A built module has fixed channels; a `Recipe` keeps the *way* to build it, so the same remix can
be traced on the meta device at B=64, C=512, H=W=512, drawn on the CPU at C=8, and compared
with others at one size. `as_recipe` accepts a catalog key (``"msf"``), a variant key
(``"msf_coord"``), a `Recipe`, a builder ``lambda C: ...`` (it may also name ``B``, ``H``, ``W``)
or a built module.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..blocks import BLOCKS, MSAA, SAFM, CBAMBlock, MFEBlock, MSFBlock, get_spec
from ..blocks.spec import construct, example_inputs
from ..errors import type_error, value_error
from ..trace import Trace, trace
from .ports import ports
from .variants import CONVS, SCALE_WEIGHTINGS, CBAMChannelOnly, MFEVariant, MSAAChannelOnly, MSFCoord

__all__ = ["Recipe", "as_recipe", "variant", "VARIANTS", "SWAPS", "meta_trace", "DEFAULT_DIMS"]

DEFAULT_DIMS = {"B": 1, "C": 32, "H": 32, "W": 32}
Shapes = list[tuple[int, ...]]


def _check_dims(owner: str, dims: dict[str, Any]) -> None:
    for name, value in dims.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise value_error(owner, f"{name} must be a positive int", {name: value},
                              f"Try {name}={DEFAULT_DIMS[name]}.", zh=f"{name} 必须是正整数",
                              zh_hint=f"可试 {name}={DEFAULT_DIMS[name]}。")


@dataclass(frozen=True)
class Recipe:
    """A named way to build a module (and its example inputs) from B, C, H, W.

    Args:
        name: Short name used in tables and traces.
        builder: ``builder(C) -> nn.Module``; a builder whose parameters are named among B, C, H, W
            gets those by keyword (``lambda C, H, W: CBAMBlock(C, HW=H * W)``).
        inputs: Example input shapes: an int n for n tensors (B, C, H, W) (channels-last when the
            module is), a function ``(B, C, H, W) -> [shape, ...]``, or None to read the count
            and layout from the module.
        zh: One line in Chinese: what this recipe is.
        en: The same in English.
        base: The recipe it changes (a catalog or variant key), for `param_diff`.

    Example:
        >>> r = Recipe("safm_avg", lambda C: SAFM(C, pool="avg"))
        >>> module, inputs = r.build(C=8, H=16, W=16, device="meta")
        >>> module.pool, inputs[0].shape
        ('avg', torch.Size([1, 8, 16, 16]))
    """

    name: str
    builder: Callable[..., nn.Module] = field(repr=False)
    inputs: int | Callable[[int, int, int, int], Shapes] | None = field(default=None, repr=False)
    zh: str = ""
    en: str = ""
    base: str | None = None

    def module(self, *, B: int = 1, C: int = 32, H: int = 32, W: int = 32,
               device: str | torch.device | None = None, seed: int = 0) -> nn.Module:
        """A fresh module for these dims (seeded on the CPU; parameters without memory on 'meta')."""
        dims = {"B": B, "C": C, "H": H, "W": W}
        _check_dims(f"Recipe {self.name!r}", dims)
        return construct(lambda: self._call(dims), device, seed)

    def _call(self, dims: dict[str, int]) -> nn.Module:
        try:
            params = inspect.signature(self.builder).parameters
        except (TypeError, ValueError):
            params = {}
        named = {k: v for k, v in dims.items() if k in params}
        module = self.builder(**named) if named else self.builder(dims["C"])
        if not isinstance(module, nn.Module):
            raise type_error(f"Recipe {self.name!r}", "the builder must return an nn.Module",
                             {"returned": type(module).__name__}, "Example: Recipe('mine', lambda C: SAFM(C)).",
                             zh="builder 必须返回 nn.Module", zh_hint="例如 Recipe('mine', lambda C: SAFM(C))。")
        return module

    def input_shapes(self, module: nn.Module | None = None, *, B: int = 1, C: int = 32, H: int = 32,
                     W: int = 32) -> Shapes:
        """The example input shapes for these dims."""
        if callable(self.inputs):
            return [tuple(s) for s in self.inputs(B, C, H, W)]
        p = ports(module) if module is not None else None
        n = self.inputs if isinstance(self.inputs, int) else (len(p.ins) if p else 1)
        last = p is not None and p.in_layout == "channels_last"
        return [(B, H, W, C) if last else (B, C, H, W)] * n

    def build(self, *, B: int = 1, C: int = 32, H: int = 32, W: int = 32,
              device: str | torch.device | None = None, seed: int = 0) -> tuple[nn.Module, list[Tensor]]:
        """A fresh module and example inputs (standard normal, seeded; empty tensors on 'meta')."""
        module = self.module(B=B, C=C, H=H, W=W, device=device, seed=seed)
        return module, example_inputs(self.input_shapes(module, B=B, C=C, H=H, W=W), device, seed)

    def title(self, lang: str = "en") -> str:
        """The recipe's one-line description in 'zh', 'en' or 'both' (its name when it has none)."""
        zh, en = self.zh or self.en or self.name, self.en or self.zh or self.name
        return {"zh": zh, "en": en}.get(lang, en if zh == en else f"{zh} / {en}")


# --------------------------------------------------------------------------- catalog keys and variants

def _catalog_recipe(key: str) -> Recipe:
    spec = get_spec(key)

    def builder(B: int, C: int, H: int, W: int) -> nn.Module:
        kwargs, _ = spec.configure(B=B, C=C, H=H, W=W)
        return spec.cls(**kwargs)

    def shapes(B: int, C: int, H: int, W: int) -> Shapes:
        return spec.configure(B=B, C=C, H=H, W=W)[1]

    return Recipe(key, builder, shapes, zh=spec.title_zh, en=spec.title_en)


# The swaps the note names, per catalog block: option -> (choices; the first is the note's).
SWAPS: dict[str, dict[str, tuple[str, ...]]] = {
    "msf": {"weighting": SCALE_WEIGHTINGS},
    "mfe": {"conv": CONVS, "weighting": SCALE_WEIGHTINGS},
    "safm": {"pool": ("max", "avg")},
    "msaa": {"gates": ("channel+spatial", "channel")},
    "cbam_joint": {"gates": ("channel+spatial", "channel")},
}
_SWAP_TEXT = {
    ("weighting", "sigmoid_softmax"): ("尺度权重：softmax(sigmoid)（笔记）",
                                       "scale weights: softmax over sigmoid (note)"),
    ("weighting", "softmax"): ("尺度权重：直接 softmax", "scale weights: plain softmax"),
    ("weighting", "coord"): ("尺度权重：坐标注意力（沿 H、W 变化）",
                             "scale weights: coordinate attention (vary along H, W)"),
    ("conv", "dilated"): ("分支卷积：空洞卷积（笔记）", "branch convs: dilated (note)"),
    ("conv", "standard"): ("分支卷积：普通 3×3", "branch convs: standard 3x3"),
    ("conv", "depthwise"): ("分支卷积：深度可分离", "branch convs: depthwise-separable"),
    ("pool", "max"): ("粗尺度池化：最大池化（笔记）", "coarse levels: max pooling (note)"),
    ("pool", "avg"): ("粗尺度池化：平均池化", "coarse levels: average pooling"),
    ("gates", "channel+spatial"): ("通道门 + 空间门（原版）", "channel + spatial gates (original)"),
    ("gates", "channel"): ("只保留通道门", "channel gate only"),
}


def _variant_builder(key: str, choice: dict[str, str]) -> tuple[Callable[..., nn.Module], Any]:
    if key == "msf":
        w = choice["weighting"]
        return (lambda C: MSFCoord(C)) if w == "coord" else (lambda C: MSFBlock(C, weighting=w)), 4
    if key == "mfe":
        conv, w = choice["conv"], choice["weighting"]
        if conv == "dilated" and w != "coord":
            return lambda C: MFEBlock(C, [2, 4, 8], weighting=w), 1
        return lambda C: MFEVariant(C, [2, 4, 8], conv=conv, weighting=w), 1
    if key == "safm":
        return lambda C: SAFM(C, 4, pool=choice["pool"]), 1
    if key == "msaa":
        cls = MSAA if choice["gates"] == "channel+spatial" else MSAAChannelOnly
        return lambda C: cls(7 * C, 64), lambda B, C, H, W: [(B, C, H, W), (B, 2 * C, H, W), (B, 4 * C, H, W)]
    if choice["gates"] == "channel+spatial":
        return lambda C, H, W: CBAMBlock(C, reduction=8, kernel_size=7, HW=H * W), 1
    return lambda C: CBAMChannelOnly(C, reduction=8), 1


def variant(key: str, **choices: str) -> Recipe:
    """A recipe for a catalog block with the note's swaps applied.

    Swaps (first choice = the note): msf ``weighting`` sigmoid_softmax / softmax / coord; mfe
    ``conv`` dilated / standard / depthwise and ``weighting``; safm ``pool`` max / avg; msaa and
    cbam_joint ``gates`` channel+spatial / channel. Fixed settings: MFE rates [2, 4, 8], SAFM
    n_levels 4, MSAA inputs (C, 2C, 4C) and out_channels 64, CBAM reduction 8 and kernel 7.

    Example:
        >>> variant("mfe", conv="depthwise").name
        'mfe_depthwise'
    """
    if key not in SWAPS:
        raise value_error("remix.variant", f"key must be one of {list(SWAPS)}", {"key": key},
                          "gated_fusion and osra have no swaps here; build them yourself in a Recipe.",
                          zh=f"key 只能是 {list(SWAPS)} 之一",
                          zh_hint="gated_fusion 和 osra 没有预设替换，请自己写 Recipe。")
    options = SWAPS[key]
    unknown = sorted(set(choices) - set(options))
    if unknown:
        raise value_error("remix.variant", f"{key} swaps are {sorted(options)}", {"unknown": unknown},
                          f"Example: variant({key!r}, {next(iter(options))}={options[next(iter(options))][-1]!r}).",
                          zh=f"{key} 可替换的选项是 {sorted(options)}")
    choice = {}
    for option, allowed in options.items():
        value = choices.get(option, allowed[0])
        if value not in allowed:
            raise value_error("remix.variant", f"{key} {option} must be one of {list(allowed)}", {option: value},
                              f"The first, {allowed[0]!r}, is the note's.",
                              zh=f"{key} 的 {option} 只能取 {list(allowed)}",
                              zh_hint=f"第一个 {allowed[0]!r} 与笔记一致。")
        choice[option] = value
    changed = [(o, v) for o, v in choice.items() if v != options[o][0]]
    name = key + "".join(f"_{v.replace('+', '_')}" for _, v in changed) if changed else f"{key}_note"
    spec = BLOCKS[key]
    texts = [_SWAP_TEXT[(o, v)] for o, v in choice.items()]
    zh = f"{spec.title_zh}：" + "，".join(t[0] for t in texts)
    en = f"{spec.title_en}: " + "; ".join(t[1] for t in texts)
    builder, inputs = _variant_builder(key, choice)
    return Recipe(name, builder, inputs, zh=zh, en=en, base=None if not changed else f"{key}_note")


def _all_variants() -> dict[str, Recipe]:
    out = {}
    for key, options in SWAPS.items():
        out[f"{key}_note"] = variant(key)
        for option, allowed in options.items():
            for value in allowed[1:]:
                r = variant(key, **{option: value})
                out[r.name] = r
    return out


VARIANTS: dict[str, Recipe] = _all_variants()


def as_recipe(item: Any, name: str | None = None) -> Recipe:
    """Turns a catalog key, a variant key, a Recipe, a builder or a built module into a Recipe.

    A built module keeps its channels: building it for another C raises an error that says so.
    """
    if isinstance(item, Recipe):
        return item
    if isinstance(item, str):
        if item in VARIANTS:
            return VARIANTS[item]
        if item in BLOCKS:
            return _catalog_recipe(item)
        raise value_error("remix", "a key must be a catalog key or a variant key",
                          {"key": item}, f"Catalog: {list(BLOCKS)}; variants: {list(VARIANTS)}.",
                          zh="key 必须是目录中的模块或预设变体",
                          zh_hint=f"目录：{list(BLOCKS)}；变体：{list(VARIANTS)}。")
    if isinstance(item, nn.Module):
        module = item
        fixed = ports(module).ins[0]

        def builder(C: int) -> nn.Module:
            if fixed is not None and C != fixed:
                raise value_error(f"remix ({type(module).__name__})", "a built module keeps its channels",
                                  {"built for C": fixed, "asked for C": C},
                                  f"Use C={fixed}, or pass a builder: lambda C: {type(module).__name__}(C, ...).",
                                  zh="已构建的模块通道数固定",
                                  zh_hint=f"请用 C={fixed}，或改传 builder：lambda C: ...。")
            copied = copy.deepcopy(module)
            device = torch.empty(0).device  # the device of the surrounding `with torch.device(...)`, if any
            return copied.to(device)

        return Recipe(name or type(module).__name__, builder)
    if callable(item):
        label = getattr(item, "__name__", "custom")
        return Recipe(name or ("custom" if label == "<lambda>" else label), item)
    raise type_error("remix", "expected a catalog key, a variant key, a Recipe, a builder or an nn.Module",
                     {"type": type(item).__name__}, "Example: remix.compare(['msf', 'msf_coord', my_recipe]).",
                     zh="需要目录 key、变体 key、Recipe、builder 或 nn.Module")


def meta_trace(item: Any, *, B: int = 1, C: int = 32, H: int = 32, W: int = 32, strict: bool = True,
               lang: str | None = None) -> Trace:
    """Traces a remix (recipe, builder, key or module) on the meta device: shapes only, no tensor memory.

    Example:
        >>> from fusion_edu.remix import Residual
        >>> meta_trace(lambda C: Residual(SAFM(C)), B=64, C=512, H=512, W=512).output_shapes
        [(64, 512, 512, 512)]
    """
    recipe = as_recipe(item)
    module, inputs = recipe.build(B=B, C=C, H=H, W=W, device="meta")
    return trace(module, *inputs, strict=strict, lang=lang, name=trace_name(module, recipe.name))


def trace_name(module: nn.Module, recipe_name: str) -> str:
    """``Class [recipe]`` for a trace or page title (just ``Class`` when the two are the same)."""
    cls = type(module).__name__
    return cls if cls == recipe_name else f"{cls} [{recipe_name}]"
