"""Small helpers that several blocks' exercises use to compute their answers."""

from __future__ import annotations

from typing import Any

from torch import nn

from ...blocks import BLOCKS, meta_trace

__all__ = ["kept_shape", "params", "meta_params"]


def kept_shape(key: str, name: str, **values: Any) -> tuple[int, ...]:
    """The shape of the tensor a block keeps under `name`, at the given settings (traced on meta)."""
    rows = [r for r in meta_trace(key, **values).rows if r.key == name]
    return rows[0].shape


def params(module: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in module.parameters())


def meta_params(key: str, **values: Any) -> int:
    """Number of parameters of block `key` built on meta for these settings."""
    module, _ = BLOCKS[key].build(device="meta", **values)
    return params(module)
