"""What the figure functions accept: tensors (or arrays) from ``trace(..., keep=True).tensors``, checked by name.

A wrong input raises a `fusion_edu.ShapeError` or `TypeError` that names the figure function and the
expected layout, instead of a matplotlib traceback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from torch import Tensor

from ..data import to_image
from ..errors import shape_error, type_error, value_error

__all__ = ["to_numpy", "checked", "pick_tensors", "channel_mean", "grey"]


def to_numpy(t: Tensor | np.ndarray, func: str = "plots", name: str = "t") -> np.ndarray:
    """A float32 NumPy copy of a tensor or array (detached, on the CPU)."""
    if isinstance(t, Tensor):
        return t.detach().float().cpu().numpy()
    if isinstance(t, np.ndarray):
        return t.astype(np.float32)
    raise type_error(func, f"{name} must be a torch.Tensor", {f"type({name})": type(t).__name__},
                     "Pass a tensor from trace(..., keep=True).tensors.", zh=f"{name} 必须是 torch.Tensor",
                     zh_hint="请传入 trace(..., keep=True).tensors 里的张量。")


def checked(t: Tensor | np.ndarray, func: str, name: str, allowed: dict[int, str]) -> np.ndarray:
    """`t` as an array; raises a ShapeError naming `func` unless t.ndim is a key of `allowed`."""
    a = to_numpy(t, func, name)
    if a.ndim not in allowed:
        layouts = " or ".join(allowed.values())
        raise shape_error(func, f"{name} must be {layouts}", {f"{name}.shape": tuple(a.shape)},
                          "Take it from trace(..., keep=True).tensors; batch item 0 is drawn.",
                          zh=f"{name} 的形状必须是 {layouts}",
                          zh_hint="请取 trace(..., keep=True).tensors 里的张量；画第 0 个样本。")
    return a


def pick_tensors(tensors: Mapping[str, Tensor] | Sequence[Tensor], names: Sequence[str], func: str) -> list[Tensor]:
    """Tensors by key from a trace's ``tensors`` dict (a key may carry a module prefix) or a sequence."""
    if isinstance(tensors, Mapping):
        out = []
        for name in names:
            hits = [v for k, v in tensors.items() if k == name or k.endswith("." + name)]
            if not hits:
                raise value_error(func, f"tensors must hold the keys {list(names)}", {"keys": list(tensors)},
                                  "Trace the block with keep=True and pass trace.tensors.",
                                  zh=f"tensors 里必须有这些键：{list(names)}",
                                  zh_hint="用 keep=True 追踪模块，再传入 trace.tensors。")
            out.append(hits[0])
        return out
    tensors = list(tensors)
    if len(tensors) != len(names):
        raise value_error(func, f"expected {len(names)} tensors ({', '.join(names)})", {"len": len(tensors)},
                          "Pass trace.tensors or a list in that order.", zh=f"需要 {len(names)} 个张量",
                          zh_hint="请传入 trace.tensors，或按这个顺序的列表。")
    return tensors


def channel_mean(t: Tensor | np.ndarray, func: str, name: str) -> np.ndarray:
    """Mean over channels of batch item 0: (B, C, H, W) or (C, H, W) -> (H, W)."""
    a = checked(t, func, name, {4: "(B, C, H, W)", 3: "(C, H, W)"})
    return (a[0] if a.ndim == 4 else a).mean(axis=0)


def grey(image: Tensor | np.ndarray) -> np.ndarray:
    """A photo tensor as a grey (H, W) image in 0..1."""
    rgb = to_image(image)
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
