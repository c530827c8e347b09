"""Small helpers that several blocks' exercises use to compute their answers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from torch import nn

from ...blocks import BLOCKS, meta_trace
from ..demo import torch_threads
from ..feedback import Feedback

__all__ = ["kept_shape", "params", "meta_params", "one_thread"]


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


def one_thread(judge: Callable[[Any], Feedback]) -> Callable[[Any], Feedback]:
    """The judge run on one torch thread: its many tiny forward passes are several times faster so."""
    @functools.wraps(judge)
    def run(answer: Any) -> Feedback:
        with torch_threads(1):
            return judge(answer)
    return run
