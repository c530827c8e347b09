"""What a catalog entry holds (`BlockSpec`), and the one path from settings to a built block.

`BlockSpec.build(device=..., **values)` is how tests, notebooks, the explorer, the graph, the CLI
and remix recipes turn B, C, H, W and hyperparameters into a module and example inputs; on the
meta device it gives a block without memory, in milliseconds. `Ports` says what a block takes and
gives, so remix can check a wiring before running it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import value_error

__all__ = ["Paper", "Hyper", "Dim", "DIMS", "Ports", "BlockSpec", "Shapes", "construct", "example_inputs"]

Shapes = list[tuple[int, ...]]


@dataclass(frozen=True)
class Paper:
    title: str
    authors: str
    venue: str
    year: int
    arxiv: str
    code: str

    def cite(self) -> str:
        return f"{self.authors}, \"{self.title}\", {self.venue} {self.year}, arXiv {self.arxiv}. Code: {self.code}"


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter the explorer and the CLI can set, with the values it offers."""

    name: str
    default: Any
    choices: tuple
    zh: str
    en: str


@dataclass(frozen=True)
class Dim:
    name: str
    low: int
    high: int
    zh: str
    en: str


# Ranges of the explorer's sliders; the largest setting is B=64, C=512, H=W=512.
DIMS = (
    Dim("B", 1, 64, "批大小", "batch size"),
    Dim("C", 1, 512, "通道数", "channels"),
    Dim("H", 1, 512, "高", "height"),
    Dim("W", 1, 512, "宽", "width"),
)


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


@dataclass(frozen=True)
class BlockSpec:
    """One catalog entry. `configure` and `build` are how notebooks, tests and the CLI make a block.

    Attributes:
        make: ``make(B, C, H, W, **hypers) -> (constructor kwargs, input shapes)``.
        ports: ``ports(block) -> Ports`` for a built block of this class.
    """

    key: str
    cls: type[nn.Module]
    source_name: str
    title_zh: str
    title_en: str
    fuses_zh: str
    fuses_en: str
    layout: str
    paper: Paper
    demo_kwargs: dict[str, Any]
    demo_shapes: Shapes
    defaults: dict[str, int]  # the explorer's starting B, C, H, W
    hypers: tuple[Hyper, ...]
    make: Callable[..., tuple[dict[str, Any], Shapes]] = field(repr=False)
    ports: Callable[[nn.Module], Ports] = field(repr=False)
    inputs: tuple[str, ...] = ("x",)
    dims_note: str = ""  # how the explorer's B, C, H, W map onto the constructor, in English
    dims_note_zh: str = ""  # the same in Chinese

    def values(self, **values: Any) -> dict[str, Any]:
        """All dims and hyperparameters: the given ones over the defaults. Unknown names raise."""
        known = {d.name for d in DIMS} | {h.name for h in self.hypers}
        unknown = sorted(set(values) - known)
        if unknown:
            raise value_error(self.cls.__name__, f"settings must be among {sorted(known)}", {"unknown": unknown},
                              "Check the spelling (case matters: B, C, H, W).",
                              zh=f"设置名只能是 {sorted(known)} 之一",
                              zh_hint="请检查拼写（区分大小写：B、C、H、W）。")
        merged = {**self.defaults, **{h.name: h.default for h in self.hypers}, **values}
        for d in DIMS:
            value = merged[d.name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise value_error(self.cls.__name__, f"{d.name} ({d.en}) must be a positive int", {d.name: value},
                                  f"Try {d.name}={self.defaults[d.name]}.",
                                  zh=f"{d.name}（{d.zh}）必须是正整数",
                                  zh_hint=f"可试 {d.name}={self.defaults[d.name]}。")
        return merged

    def configure(self, **values: Any) -> tuple[dict[str, Any], Shapes]:
        """Constructor kwargs and input shapes for the given dims and hyperparameters."""
        return self.make(**self.values(**values))

    def build(self, device: str | torch.device | None = None, seed: int = 0,
              **values: Any) -> tuple[nn.Module, list[Tensor]]:
        """A fresh block and example inputs for the given settings.

        On the CPU (default) the weights and the standard-normal inputs are seeded; on ``"meta"``
        both are empty (shapes only, no memory).
        """
        kwargs, shapes = self.configure(**values)
        return self.instantiate(kwargs, shapes, device, seed)

    def demo(self, seed: int = 0, device: str | torch.device | None = None) -> tuple[nn.Module, list[Tensor]]:
        """The block and inputs of the note's own example (``model, inputs = spec.demo()``)."""
        return self.instantiate(dict(self.demo_kwargs), list(self.demo_shapes), device, seed)

    def instantiate(self, kwargs: dict[str, Any], shapes: Shapes, device: str | torch.device | None = None,
                    seed: int = 0) -> tuple[nn.Module, list[Tensor]]:
        """The block built from constructor `kwargs`, and inputs of `shapes` (see `build`)."""
        return construct(lambda: self.cls(**kwargs), device, seed), example_inputs(shapes, device, seed)


def construct(factory: Callable[[], nn.Module], device: str | torch.device | None = None,
              seed: int = 0) -> nn.Module:
    """``factory()`` built on `device`: seeded on the CPU (then moved), without memory on ``"meta"``.

    The one place where the package turns a constructor into a module on a device: catalog
    blocks and remix recipes both come through here.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "meta":
        with device:
            return factory()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = factory()
    return module.to(device)


def example_inputs(shapes: Shapes, device: str | torch.device | None = None, seed: int = 0) -> list[Tensor]:
    """Inputs of `shapes`: seeded standard normal on the CPU (then moved), empty on ``"meta"``."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "meta":
        return [torch.empty(s, device=device) for s in shapes]
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=generator).to(device) for s in shapes]
