"""Shape-only execution on the meta device, and the project's one FLOP counter.

A forward pass on ``meta`` tensors computes shapes without memory, but PyTorch answers many ops
there through Python reference kernels: a training-mode BatchNorm costs about 3 ms, a ReLU or a
broadcast add 0.2-0.5 ms, whatever the tensor size. `ShapeOnlyMode` answers the pointwise ops,
``cat``, ``mean``, BatchNorm, ``addmm`` and plain 2-D convolutions on contiguous meta tensors with
an empty tensor of the right shape, dtype and strides, and runs the real kernel for anything
unusual (odd strides, integer dtypes, ``out=``). Tests check every answer against the kernel.

It also counts FLOPs with the formulas that ``torch.utils.flop_counter.FlopCounterMode`` applies
(convolutions and matrix products; one multiply-add = 2 FLOPs), on any device. `count_flops` is
the function the explorer, the remix tables and the demos use; tests check that it agrees with
``FlopCounterMode``. `meta_twin` copies any module onto meta, to run it for shapes only.

Example:
    >>> import torch
    >>> from torch import nn
    >>> count_flops(nn.Conv2d(8, 16, 3, padding=1), torch.empty(1, 8, 32, 32, device="meta"))
    2359296
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

__all__ = ["ShapeOnlyMode", "count_flops", "meta_twin"]

_aten = torch.ops.aten
_POINTWISE = {_aten.add.Tensor, _aten.sub.Tensor, _aten.mul.Tensor, _aten.div.Tensor, _aten.rsub.Scalar,
              _aten.add.Scalar, _aten.sub.Scalar, _aten.mul.Scalar, _aten.div.Scalar,
              _aten.relu.default, _aten.gelu.default, _aten.sigmoid.default, _aten.tanh.default}
_FLOAT_ONLY = {_aten.div.Tensor, _aten.div.Scalar, _aten.sigmoid.default, _aten.gelu.default, _aten.tanh.default}
_PYTHON_KEYS = torch._C.DispatchKeySet(torch._C.DispatchKey.Python) | torch._C.DispatchKeySet(
    torch._C.DispatchKey.PythonTLSSnapshot)
_BATCH_NORM = {_aten.native_batch_norm.default, _aten._native_batch_norm_legit.default}


def _contiguous_meta(args: tuple) -> bool:
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    return bool(tensors) and all(
        (t.device.type == "meta" or t.ndim == 0) and not t.is_complex() and (t.ndim == 0 or t.is_contiguous())
        for t in tensors)


def _contiguous_like(args: tuple) -> bool:
    """Meta operands of a pointwise op whose result is contiguous: one is contiguous with the broadcast
    shape, and every other one keeps the contiguous order of strides over its non-broadcast axes (a slice
    or an unsqueezed view, not a transpose), so TensorIterator keeps the axes in order."""
    tensors = [a for a in args if isinstance(a, torch.Tensor) and a.ndim > 0]
    if not tensors or any(t.device.type != "meta" or t.is_complex() for t in tensors):
        return False
    try:
        shape = _broadcast([t.shape for t in tensors])
    except ValueError:
        return False
    if not any(t.is_contiguous() and list(t.shape) == shape for t in tensors):
        return False
    for t in tensors:
        strides = [st for size, st in zip(t.shape, t.stride()) if size != 1]
        if any(a <= b for a, b in zip(strides, strides[1:])):
            return False
    return True


def _pointwise_dtype(operands: tuple) -> torch.dtype:
    tensors = [a for a in operands if isinstance(a, torch.Tensor)]
    first = tensors[0].dtype
    if (first.is_floating_point and all(t.dtype == first and t.ndim > 0 for t in tensors)
            and all(isinstance(a, (torch.Tensor, int, float)) and not isinstance(a, bool) for a in operands)):
        return first  # a Python int or float does not promote a floating tensor
    return torch.result_type(*operands) if len(operands) == 2 else first


def _broadcast(shapes: list[torch.Size]) -> list[int]:
    out = [1] * max(len(s) for s in shapes)
    for shape in shapes:
        for i, size in enumerate(shape, len(out) - len(shape)):
            if size != 1:
                if out[i] not in (1, size):
                    raise ValueError("shapes do not broadcast")
                out[i] = size
    return out


def _conv_shape(x: torch.Tensor, weight: torch.Tensor, bias: Any, stride: list, padding: list, dilation: list,
                transposed: bool, output_padding: list, groups: int) -> Any:
    """Output shape of a plain (not transposed) 2-D convolution of a contiguous input, else NotImplemented."""
    if (transposed or x.ndim != 4 or weight.ndim != 4 or not x.is_contiguous() or x.dtype != weight.dtype
            or x.device.type != "meta" or weight.device.type != "meta"
            or not x.dtype.is_floating_point or x.shape[1] != weight.shape[1] * groups or weight.shape[0] % groups):
        return NotImplemented
    size = [(n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, k, s, p, d in zip(x.shape[2:], weight.shape[2:], stride, padding, dilation)]
    if len(size) != 2 or min(size) < 1:
        return NotImplemented
    return [(x.shape[0], weight.shape[0], *size)], x.dtype


def _shape_only(func: Any, args: tuple, kwargs: dict) -> Any:
    """``(shapes, dtype)`` of `func`'s outputs when it is answered shape-only, else NotImplemented."""
    if kwargs.get("out") is not None:
        return NotImplemented
    if func is _aten.addmm.default:
        bias, mat1, mat2 = args[:3]
        if not (mat1.ndim == mat2.ndim == 2 and mat1.dtype == mat2.dtype == bias.dtype
                and mat1.device.type == mat2.device.type == bias.device.type == "meta"
                and mat1.dtype.is_floating_point and mat1.shape[1] == mat2.shape[0]):
            return NotImplemented
        _broadcast([bias.shape, (mat1.shape[0], mat2.shape[1])])
        return [(mat1.shape[0], mat2.shape[1])], mat1.dtype  # mm's output is contiguous whatever the inputs
    if func is _aten.convolution.default:
        return _conv_shape(*args[:9])
    if func is _aten.cat.default:
        tensors, dim = args[0], args[1] if len(args) > 1 else kwargs.get("dim", 0)
        first = tensors[0]
        if (not _contiguous_meta(tuple(tensors)) or any(t.ndim != first.ndim or t.dtype != first.dtype or
                                                       t.numel() == 0 for t in tensors) or first.ndim == 0):
            return NotImplemented
        dim %= first.ndim
        shape = list(first.shape)
        if any(t.shape[:dim] != first.shape[:dim] or t.shape[dim + 1:] != first.shape[dim + 1:] for t in tensors):
            return NotImplemented
        shape[dim] = sum(t.shape[dim] for t in tensors)
        return [shape], first.dtype
    if func in _POINTWISE and _contiguous_like(args):
        dtype = _pointwise_dtype(args[:2])
        if func in _FLOAT_ONLY and not dtype.is_floating_point:
            return NotImplemented
        return [_broadcast([a.shape for a in args if isinstance(a, torch.Tensor)])], dtype
    if func is _aten.native_layer_norm.default and _contiguous_meta(args[:1]):
        x, normalized = args[0], list(args[1])
        if not x.dtype.is_floating_point or x.ndim < len(normalized) or list(x.shape[x.ndim - len(normalized):]) \
                != normalized:
            return NotImplemented
        stats = (*x.shape[:x.ndim - len(normalized)], *[1] * len(normalized))
        return [x.shape, stats, stats], x.dtype
    if not _contiguous_meta(args):
        return NotImplemented
    if func is _aten.mean.dim:
        x, dims = args[0], args[1] if len(args) > 1 else kwargs.get("dim")
        keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
        if not x.dtype.is_floating_point or kwargs.get("dtype") is not None or x.ndim == 0:
            return NotImplemented
        axes = {d % x.ndim for d in (dims if dims else range(x.ndim))}
        return [[1 if i in axes else s for i, s in enumerate(x.shape) if keepdim or i not in axes]], x.dtype
    if func in _BATCH_NORM:
        x = args[0]
        if x.ndim < 2 or not x.dtype.is_floating_point:
            return NotImplemented
        # out, save_mean, save_invstd (one per channel, in training and in eval alike)
        return [x.shape, (x.shape[1],), (x.shape[1],)], x.dtype
    return NotImplemented


def _as_shapes(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.shape
    if isinstance(value, (list, tuple)):
        return type(value)(_as_shapes(v) for v in value)
    return value


def _flops(func: Any, args: tuple, kwargs: dict, out: Any) -> int:
    """`FlopCounterMode`'s count for one op: its registered formula, applied to the shapes."""
    formula = flop_registry[func._overloadpacket]
    inner = getattr(formula, "__wrapped__", None)  # the formula on shapes, under torch's tree-mapping wrapper
    if inner is None:
        return formula(*args, **kwargs, out_val=out)
    return inner(*_as_shapes(args), **{k: _as_shapes(v) for k, v in kwargs.items()}, out_shape=_as_shapes(out))


class ShapeOnlyMode(TorchDispatchMode):
    """Answers slow meta ops with empty results of the right shape, and counts FLOPs.

    Answered (contiguous meta tensors only): pointwise arithmetic and activations, ``cat``,
    ``mean``, BatchNorm, ``addmm`` and plain 2-D convolutions. Those ops keep a contiguous
    input's layout, so an empty contiguous tensor of the broadcast (or reduced) shape has the
    real meta kernel's shape, dtype and strides. Everything else runs the real kernel.

    Args:
        answer: Answer the ops above shape-only (False: run every real kernel, count only).
        check: Also run the real kernel for every answered op and record any difference in
            `mismatches` (for tests).
        count: Count FLOPs (False saves the formula work when only shapes matter).

    Attributes:
        flops: FLOPs of the ops seen so far, by the formulas of ``torch.utils.flop_counter``.
        answered: With ``check=True``: the ops answered shape-only.
        mismatches: With ``check=True``: where an answer differs from the kernel.
    """

    def __init__(self, answer: bool = True, check: bool = False, count: bool = True):
        super().__init__()
        self.answer = answer
        self.count = count
        self.check = check
        self.flops = 0
        self.answered: list[str] = []
        self.mismatches: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        answer = NotImplemented
        if self.answer:
            try:
                answer = _shape_only(func, args, kwargs)
            except Exception:  # noqa: BLE001 - let the real kernel raise its own error
                answer = NotImplemented
        with torch._C._ExcludeDispatchKeyGuard(_PYTHON_KEYS):
            if answer is NotImplemented:
                out = func(*args, **kwargs)
            else:
                shapes, dtype = answer
                out = [torch.empty(shape, dtype=dtype, device="meta") for shape in shapes]
                out = out[0] if len(out) == 1 else tuple(out)
                if self.check:
                    self._compare(func, out, func(*args, **kwargs))
        if self.count and func._overloadpacket in flop_registry:
            self.flops += _flops(func, args, kwargs, out)
        return out

    def _compare(self, func: Any, fast: Any, real: Any) -> None:
        self.answered.append(str(func))
        fast = fast if isinstance(fast, tuple) else (fast,)
        real = real if isinstance(real, tuple) else (real,)
        for a, b in zip(fast, real):
            if (a.shape, a.dtype, a.stride(), a.device) != (b.shape, b.dtype, b.stride(), b.device):
                self.mismatches.append(f"{func}: shape-only {tuple(a.shape)} {a.dtype} {a.stride()} "
                                       f"vs kernel {tuple(b.shape)} {b.dtype} {b.stride()}")


def count_flops(module: nn.Module, *inputs: Any, fast: bool = True) -> int:
    """FLOPs of one forward pass of `module` (under ``torch.no_grad()``), on meta or real tensors.

    Args:
        module: Any module.
        *inputs: Its forward arguments.
        fast: Answer slow meta ops shape-only (see `ShapeOnlyMode`); the count is the same.
    """
    with torch.no_grad(), ShapeOnlyMode(answer=fast) as mode:
        module(*inputs)
    return mode.flops


def meta_twin(module: nn.Module) -> nn.Module:
    """A deep copy of `module` whose parameters and buffers are empty meta tensors.

    No weight is copied and the caller's module is untouched; structure and hooks come along.
    """
    memo: dict[int, Any] = {}
    for p in module.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
    for b in module.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(module, memo)
