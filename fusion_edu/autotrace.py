"""Autotrace: the shape trace of any module, with no `note` calls, in symbolic sizes.

`autotrace(module, *inputs)` runs a meta twin of the module (same structure, empty meta
weights) and records one row per tensor-producing step: a call of a leaf module (Conv2d, ReLU,
...) or a torch function / Tensor method called from a non-leaf module's forward (reshape,
permute, cat, matmul, softmax, interpolate, +, * ...). Each row gets a zh and an en description
from an op glossary and a symbolic spec such as ``B C//4 1 1`` or ``B*(H//8)*(W//8) 64 C``.

How the specs are found: the input sizes are bound to names (``B C H W`` for a 4-D input, or
``dims``). The module is run again on meta with each name moved on its own (x2 and x3), then once
with all of them moved together by +1 (which tells ``H//2`` from ``(H+1)//2``; +8 or x2 where odd
sizes are refused), and each size of each row is solved as the simplest expression of a small
grammar that fits every run: a literal, ``n``, ``k*n``, ``n//k``, ``(p*n+c)//k``, products
``K*f(a)*g(b)`` and sums of two such terms. A name whose perturbed runs fail (a conv's weights
fix C; CBAM's MLP fixes H*W) or change the steps is *fixed*: the trace says so, and a size equal
to a fixed name's value is written with its name (which can be a coincidence: with C = 16 fixed,
16 tokens per window also read ``C``).

Pass a factory instead of a module (``lambda C: SEBlock(C)``, a class) and the names among its
parameters are moved by rebuilding it, so that C, too, becomes symbolic.

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(1))
    >>> t = autotrace(net, torch.randn(2, 8, 32, 32), lang="en")
    >>> [r.spec for r in t.rows]
    ['B 16 (H+1)//2 (W+1)//2', 'B 16 (H+1)//2 (W+1)//2', 'B 16*((H+1)//2)*((W+1)//2)']
    >>> t.rows[0].en
    '3x3 conv, stride 2'
"""

from __future__ import annotations

import ast
import inspect
import itertools
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .errors import type_error, value_error
from .lang import resolve
from .shapeonly import ShapeOnlyMode, meta_twin
from .trace import Step, Trace, short_path

__all__ = ["autotrace", "AutoTrace"]

_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_THIS_FILE = os.path.abspath(__file__)
_DEFAULT_NAMES = {1: ["N"], 2: ["B", "C"], 3: ["B", "N", "C"], 4: ["B", "C", "H", "W"], 5: ["B", "C", "D", "H", "W"]}


# --------------------------------------------------------------------------- the op glossary

def _dim_zh(d: Any) -> str:
    if isinstance(d, (tuple, list)):
        return "、".join(_dim_zh(x) for x in d) if d else "所有维"
    if d is None:
        return "所有维"
    return "最后一维" if d == -1 else f"倒数第 {-d} 维" if d < 0 else f"第 {d} 维"


def _dim_en(d: Any) -> str:
    if isinstance(d, (tuple, list)):
        return ("dims " + ", ".join(str(x) for x in d)) if d else "all dims"
    if d is None:
        return "all dims"
    return "the last dim" if d == -1 else f"dim {d}"


def _kernel(size: Any, sep: str, ndim: int = 2) -> str:
    """``3×3`` for 3 or (3, 3) in 2-D, ``1×7`` for (1, 7)."""
    size = tuple(size) if isinstance(size, (tuple, list)) else (size,) * ndim
    return sep.join(str(s) for s in size)


def _ndim(m: nn.Module) -> int:
    """1, 2 or 3 from a class name such as MaxPool2d (2 when it does not say)."""
    name = type(m).__name__
    return int(name[-2]) if name[-2:] in ("1d", "2d", "3d") else 2


def _one(value: Any) -> Any:
    """2 for (2, 2); the tuple itself when its entries differ."""
    if isinstance(value, (tuple, list)) and value and len(set(value)) == 1:
        return value[0]
    return value


def _pretty(dim: str) -> str:
    """``2*H`` reads ``2H`` in a description."""
    return re.sub(r"\b(\d+)\*([A-Za-z_])", r"\1\2", dim)


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _conv_text(kernel: Any, stride: Any, dilation: Any, groups: int, channels_in: int, ndim: int,
               transposed: bool = False) -> tuple[str, str]:
    stride, dilation = _one(stride), _one(dilation)
    zh_kind, en_kind = ("转置卷积", "transposed conv") if transposed else ("卷积", "conv")
    if ndim == 1:
        zh, en = f"核长 {_kernel(kernel, '×', 1)} 的一维{zh_kind}", f"1-D {en_kind}, kernel {_kernel(kernel, 'x', 1)}"
    else:
        zh, en = f"{_kernel(kernel, '×', ndim)} {zh_kind}", f"{_kernel(kernel, 'x', ndim)} {en_kind}"
    if _one(kernel) == 1 and groups == 1 and not transposed:
        zh, en = zh + "（逐点）", en + " (pointwise)"
    if stride != 1:
        zh, en = zh + f"，步长 {stride}", en + f", stride {stride}"
    if dilation != 1:
        zh, en = zh + f"，空洞率 {dilation}", en + f", dilation {dilation}"
    if groups > 1:
        if groups == channels_in:
            zh, en = zh + "，深度可分离", en + ", depthwise"
        else:
            zh, en = zh + f"，分 {groups} 组", en + f", {groups} groups"
    return zh, en


def _conv_module(m: nn.Module) -> tuple[str, str]:
    return _conv_text(m.kernel_size, m.stride, m.dilation, m.groups, m.in_channels, len(m.kernel_size),
                      transposed=isinstance(m, nn.modules.conv._ConvTransposeNd))


def _pool_module(kind_zh: str, kind_en: str) -> Callable[[nn.Module], tuple[str, str]]:
    def text(m: nn.Module) -> tuple[str, str]:
        k, s, n = _one(m.kernel_size), _one(m.stride), _ndim(m)
        zh, en = f"{_kernel(k, '×', n)} {kind_zh}池化", f"{_kernel(k, 'x', n)} {kind_en} pooling"
        if s != k:
            zh, en = zh + f"，步长 {s}", en + f", stride {s}"
        return zh, en
    return text


def _adaptive_module(kind_zh: str, kind_en: str) -> Callable[[nn.Module], tuple[str, str]]:
    def text(m: nn.Module) -> tuple[str, str]:
        size = _one(m.output_size)
        if size == 1:
            return f"全局{kind_zh}池化：每个通道压成一个数", f"global {kind_en} pooling: one number per channel"
        n = _ndim(m)
        return (f"自适应{kind_zh}池化到 {_kernel(size, '×', n)}",
                f"adaptive {kind_en} pooling to {_kernel(size, 'x', n)}")
    return text


def _softmax_text(dim: Any) -> tuple[str, str]:
    return f"softmax（{_dim_zh(dim)}）", f"softmax over {_dim_en(dim)}"


def _mode_text(mode: str) -> tuple[str, str]:
    names = {"nearest": ("最近邻", "nearest"), "nearest-exact": ("最近邻", "nearest"),
             "bilinear": ("双线性", "bilinear"), "bicubic": ("双三次", "bicubic"), "linear": ("线性", "linear"),
             "trilinear": ("三线性", "trilinear"), "area": ("区域平均", "area")}
    return names.get(mode, (mode, mode))


def _upsample_module(m: nn.Module) -> tuple[str, str]:
    zh, en = _mode_text(m.mode)
    if m.scale_factor is not None:
        s = _number(_one(m.scale_factor))
        return f"{zh}上采样 ×{s}", f"{en} upsampling x{s}"
    return f"{zh}上采样到 {_kernel(m.size, '×')}", f"{en} upsampling to {_kernel(m.size, 'x')}"


_MODULE_TEXT: dict[str, Callable[[nn.Module], tuple[str, str]]] = {
    "Conv1d": _conv_module, "Conv2d": _conv_module, "Conv3d": _conv_module,
    "ConvTranspose1d": _conv_module, "ConvTranspose2d": _conv_module, "ConvTranspose3d": _conv_module,
    "Linear": lambda m: (f"全连接层：{m.in_features} → {m.out_features} 个特征",
                         f"linear layer: {m.in_features} -> {m.out_features} features"),
    "Bilinear": lambda m: ("双线性层", "bilinear layer"),
    "BatchNorm1d": lambda m: ("批归一化", "batch norm"),
    "BatchNorm2d": lambda m: ("批归一化", "batch norm"),
    "BatchNorm3d": lambda m: ("批归一化", "batch norm"),
    "SyncBatchNorm": lambda m: ("批归一化（多卡同步）", "batch norm (synchronised)"),
    "LayerNorm": lambda m: (f"层归一化（最后 {len(m.normalized_shape)} 维）",
                            f"layer norm over the last {len(m.normalized_shape)} dim(s)"),
    "GroupNorm": lambda m: (f"分组归一化（{m.num_groups} 组）", f"group norm ({m.num_groups} groups)"),
    "InstanceNorm1d": lambda m: ("实例归一化", "instance norm"),
    "InstanceNorm2d": lambda m: ("实例归一化", "instance norm"),
    "LocalResponseNorm": lambda m: ("局部响应归一化", "local response norm"),
    "ReLU": lambda m: ("ReLU 激活：负数变 0", "ReLU: negatives become 0"),
    "ReLU6": lambda m: ("ReLU6 激活：截到 [0, 6]", "ReLU6: clip to [0, 6]"),
    "LeakyReLU": lambda m: (f"LeakyReLU 激活（负斜率 {_number(m.negative_slope)}）",
                            f"leaky ReLU (slope {_number(m.negative_slope)})"),
    "PReLU": lambda m: ("PReLU 激活（负斜率可学习）", "PReLU (learned negative slope)"),
    "ELU": lambda m: ("ELU 激活", "ELU activation"),
    "GELU": lambda m: ("GELU 激活", "GELU activation"),
    "SiLU": lambda m: ("SiLU（Swish）激活", "SiLU (swish) activation"),
    "Mish": lambda m: ("Mish 激活", "Mish activation"),
    "Hardswish": lambda m: ("Hardswish 激活", "hard swish activation"),
    "Hardsigmoid": lambda m: ("Hardsigmoid：分段线性地压到 [0, 1]", "hard sigmoid: piecewise-linear squash to [0, 1]"),
    "Sigmoid": lambda m: ("Sigmoid：压到 (0, 1)，得到门控权重", "sigmoid: squash to (0, 1), a gate"),
    "Tanh": lambda m: ("Tanh：压到 (-1, 1)", "tanh: squash to (-1, 1)"),
    "Softplus": lambda m: ("Softplus 激活", "softplus activation"),
    "Softmax": lambda m: _softmax_text(m.dim),
    "LogSoftmax": lambda m: (f"log-softmax（{_dim_zh(m.dim)}）", f"log-softmax over {_dim_en(m.dim)}"),
    "Softmax2d": lambda m: ("softmax（通道维，逐像素）", "softmax over channels, per pixel"),
    "Dropout": lambda m: (f"Dropout（p={_number(m.p)}）", f"dropout (p={_number(m.p)})"),
    "Dropout1d": lambda m: (f"Dropout（整通道，p={_number(m.p)}）", f"channel dropout (p={_number(m.p)})"),
    "Dropout2d": lambda m: (f"Dropout（整通道，p={_number(m.p)}）", f"channel dropout (p={_number(m.p)})"),
    "DropPath": lambda m: ("DropPath：随机丢弃整条残差分支", "drop path: randomly drops the whole branch"),
    "Identity": lambda m: ("恒等映射：原样输出", "identity: passes the input through"),
    "AdaptiveAvgPool1d": _adaptive_module("平均", "average"),
    "AdaptiveAvgPool2d": _adaptive_module("平均", "average"),
    "AdaptiveMaxPool1d": _adaptive_module("最大", "max"),
    "AdaptiveMaxPool2d": _adaptive_module("最大", "max"),
    "AvgPool1d": _pool_module("平均", "average"),
    "AvgPool2d": _pool_module("平均", "average"),
    "MaxPool1d": _pool_module("最大", "max"),
    "MaxPool2d": _pool_module("最大", "max"),
    "Upsample": _upsample_module,
    "UpsamplingNearest2d": _upsample_module,
    "UpsamplingBilinear2d": _upsample_module,
    "PixelShuffle": lambda m: (f"像素重排（PixelShuffle）：通道换成空间，放大 {m.upscale_factor} 倍",
                               f"pixel shuffle: channels to space, upscale x{m.upscale_factor}"),
    "PixelUnshuffle": lambda m: (f"像素反重排：空间换成通道，缩小 {m.downscale_factor} 倍",
                                 f"pixel unshuffle: space to channels, downscale x{m.downscale_factor}"),
    "Flatten": lambda m: (f"展平：{_dim_zh(m.start_dim)}到{_dim_zh(m.end_dim)}合成一维",
                          f"flatten {_dim_en(m.start_dim)} to {_dim_en(m.end_dim)} into one"),
    "Unflatten": lambda m: (f"拆开{_dim_zh(m.dim)}", f"unflatten {_dim_en(m.dim)}"),
    "Embedding": lambda m: ("嵌入查表：每个编号换成一个向量", "embedding lookup: one vector per index"),
    "ZeroPad2d": lambda m: (f"补零 {m.padding}", f"zero padding {m.padding}"),
    "ReflectionPad2d": lambda m: (f"镜像填充 {m.padding}", f"reflection padding {m.padding}"),
    "ReplicationPad2d": lambda m: (f"复制边缘填充 {m.padding}", f"replication padding {m.padding}"),
}


class _Call:
    """One recorded tensor-producing call (a leaf module or a torch function / Tensor method)."""

    __slots__ = ("kind", "name", "path", "block", "module", "args", "kwargs", "shapes", "fields", "file", "lineno",
                 "values", "part")

    def __init__(self, kind: str, name: str, path: str, block: str, shapes: list[tuple[int, ...]]):
        self.kind = kind  # "module" | "function"
        self.name = name  # class name of a leaf module, or the function / method name
        self.path = path
        self.block = block
        self.shapes = shapes
        self.module: nn.Module | None = None
        self.args: tuple = ()
        self.kwargs: dict = {}
        self.fields: tuple[str, ...] = ()  # names of the outputs of a named tuple (max -> values, indices)
        self.file = ""
        self.lineno = 0
        self.values: list[Tensor] | None = None
        self.part = ""  # a leaf module's attribute path inside `path` (the module whose forward called it)

    def arg(self, i: int, name: str, default: Any = None) -> Any:
        if len(self.args) > i:
            return self.args[i]
        return self.kwargs.get(name, default)


def _shape_of(value: Any) -> tuple[int, ...] | None:
    return tuple(value.shape) if isinstance(value, Tensor) else None


def _describe_function(call: _Call, spec: list[str]) -> tuple[str, str]:
    name = call.name.rstrip("_") if call.name.endswith("_") and not call.name.startswith("_") else call.name
    in_place = name != call.name
    zh, en = _function_text(call, name, spec)
    if in_place:
        zh, en = zh + "（原地）", en + " (in place)"
    return zh, en


def _binary(call: _Call, zh_op: str, en_op: str, zh_scalar: str, en_scalar: str) -> tuple[str, str]:
    a, b = call.arg(0, "input"), call.arg(1, "other")
    scalar = next((v for v in (b, a) if isinstance(v, (int, float)) and not isinstance(v, bool)), None)
    if scalar is not None:
        return zh_scalar.format(_number(scalar)), en_scalar.format(_number(scalar))
    sa, sb = _shape_of(a), _shape_of(b)
    if sa is not None and sb is not None and sa != sb:
        return f"{zh_op}（广播）", f"{en_op} (broadcast)"
    return zh_op, en_op


def _function_text(call: _Call, name: str, spec: list[str]) -> tuple[str, str]:
    hw = "×".join(_pretty(d) for d in spec[-2:]) if len(spec) >= 2 else ""
    if name in ("add", "__add__", "__radd__"):
        return _binary(call, "逐元素相加", "add element-wise", "加上常数 {}", "add {}")
    if name in ("sub", "__sub__", "__rsub__", "rsub"):
        return _binary(call, "逐元素相减", "subtract element-wise", "减去常数 {}", "subtract {}")
    if name in ("mul", "__mul__", "__rmul__", "multiply"):
        return _binary(call, "逐元素相乘", "multiply element-wise", "乘以 {}", "multiply by {}")
    if name in ("div", "__truediv__", "__rtruediv__", "true_divide", "divide", "__div__"):
        return _binary(call, "逐元素相除", "divide element-wise", "除以 {}", "divide by {}")
    if name in ("matmul", "__matmul__", "__rmatmul__", "bmm", "mm"):
        return "矩阵乘法", "matrix multiply"
    if name == "einsum":
        eq = call.arg(0, "equation", "")
        return f"einsum 求和约定 '{eq}'", f"einsum '{eq}'"
    if name in ("softmax", "log_softmax"):
        zh, en = _softmax_text(call.arg(1, "dim"))
        return (zh, en) if name == "softmax" else ("log-" + zh, "log-" + en)
    if name in ("cat", "concat", "concatenate"):
        d, n = call.arg(1, "dim", 0), len(call.arg(0, "tensors", ()))
        return f"沿{_dim_zh(d)}拼接 {n} 个张量", f"concatenate {n} tensors on {_dim_en(d)}"
    if name == "stack":
        d, n = call.arg(1, "dim", 0), len(call.arg(0, "tensors", ()))
        return f"把 {n} 个张量堆叠成新的{_dim_zh(d)}", f"stack {n} tensors as a new {_dim_en(d)}"
    if name in ("reshape", "view"):
        extra = ("（不复制数据）", " (no copy)") if name == "view" else ("", "")
        return "改变形状，元素顺序不变" + extra[0], "reshape, same elements in the same order" + extra[1]
    if name in ("view_as", "reshape_as"):
        return "改成另一张量的形状", "reshape to another tensor's shape"
    if name == "permute":
        order = call.args[1:] if len(call.args) > 2 else call.arg(1, "dims", ())
        order = tuple(order[0]) if len(order) == 1 and isinstance(order[0], (tuple, list)) else tuple(order)
        return f"重排维度顺序为 {order}", f"reorder the axes to {order}"
    if name in ("transpose", "swapaxes", "swapdims"):
        a, b = call.arg(1, "dim0"), call.arg(2, "dim1")
        if {a, b} == {-1, -2}:
            return "交换最后两维（转置）", "swap the last two dims (transpose)"
        return f"交换{_dim_zh(a)}和{_dim_zh(b)}", f"swap {_dim_en(a)} and {_dim_en(b)}"
    if name in ("get:T", "get:mT", "t"):
        return "转置最后两维", "transpose the last two dims"
    if name == "flatten":
        start, end = call.arg(1, "start_dim", 0), call.arg(2, "end_dim", -1)
        return f"展平：{_dim_zh(start)}到{_dim_zh(end)}合成一维", f"flatten {_dim_en(start)} to {_dim_en(end)} into one"
    if name == "unflatten":
        d = call.arg(1, "dim")
        return f"把{_dim_zh(d)}拆成几维", f"split {_dim_en(d)} into several"
    if name == "unsqueeze":
        d = call.arg(1, "dim")
        return f"在{_dim_zh(d)}插入长度为 1 的新维", f"insert a size-1 axis at {_dim_en(d)}"
    if name == "squeeze":
        return "去掉长度为 1 的维", "drop size-1 axes"
    if name in ("chunk", "split", "tensor_split", "split_with_sizes", "unbind"):
        d = call.arg(1, "dim", 0) if name == "unbind" else call.arg(2, "dim", 0)
        if name == "chunk":
            n = call.arg(1, "chunks")
            return f"沿{_dim_zh(d)}平均切成 {n} 份", f"split into {n} chunks on {_dim_en(d)}"
        if name == "unbind":
            return f"沿{_dim_zh(d)}拆成一个个切片", f"unbind {_dim_en(d)} into slices"
        return f"沿{_dim_zh(d)}切分", f"split on {_dim_en(d)}"
    if name in ("interpolate", "upsample", "upsample_nearest", "upsample_bilinear"):
        zh_mode, en_mode = _mode_text(call.arg(3, "mode", "nearest"))
        return f"{zh_mode}插值到 {hw}", f"{en_mode} interpolation to {hw.replace('×', ' x ')}"
    if name in ("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"):
        kind = ("平均", "average") if "avg" in name else ("最大", "max")
        if _one(call.arg(1, "output_size")) == 1:
            return f"全局{kind[0]}池化：每个通道压成一个数", f"global {kind[1]} pooling: one number per channel"
        return f"自适应{kind[0]}池化到 {hw}", f"adaptive {kind[1]} pooling to {hw.replace('×', ' x ')}"
    if name in ("avg_pool1d", "avg_pool2d", "max_pool1d", "max_pool2d", "max_pool2d_with_indices"):
        kind = ("平均", "average") if "avg" in name else ("最大", "max")
        k, n = _one(call.arg(1, "kernel_size")), 1 if "1d" in name else 2
        s = _one(call.arg(2, "stride")) or k
        zh, en = f"{_kernel(k, '×', n)} {kind[0]}池化", f"{_kernel(k, 'x', n)} {kind[1]} pooling"
        return (zh + f"，步长 {s}", en + f", stride {s}") if s != k else (zh, en)
    if name in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d"):
        weight = call.arg(1, "weight")
        shape = _shape_of(weight) or (1, 1, 1, 1)
        groups = call.arg(6, "groups", 1) if "transpose" not in name else call.arg(6, "groups", 1)
        return _conv_text(shape[2:], call.arg(3, "stride", 1), call.arg(5, "dilation", 1), groups,
                          shape[1] * groups, len(shape) - 2, transposed="transpose" in name)
    if name == "linear":
        return "线性变换（全连接）", "linear map (fully connected)"
    if name in ("pixel_shuffle", "pixel_unshuffle"):
        r = call.arg(1, "upscale_factor" if name == "pixel_shuffle" else "downscale_factor")
        if name == "pixel_shuffle":
            return f"像素重排：通道换成空间，放大 {r} 倍", f"pixel shuffle: channels to space, upscale x{r}"
        return f"像素反重排：空间换成通道，缩小 {r} 倍", f"pixel unshuffle: space to channels, downscale x{r}"
    reductions = {"mean": ("求平均", "mean"), "sum": ("求和", "sum"), "amax": ("取最大值", "max"),
                  "amin": ("取最小值", "min"), "max": ("取最大值", "max"), "min": ("取最小值", "min"),
                  "std": ("求标准差", "standard deviation"), "var": ("求方差", "variance"),
                  "logsumexp": ("求 logsumexp", "logsumexp"), "norm": ("求范数", "norm"),
                  "argmax": ("取最大值的位置", "argmax"), "argmin": ("取最小值的位置", "argmin"),
                  "prod": ("求积", "product")}
    if name in reductions:
        d = call.arg(1, "dim")
        if name in ("max", "min") and isinstance(d, Tensor):
            return f"逐元素{reductions[name][0]}", f"element-wise {name}"
        keep = call.arg(2, "keepdim", False) is True
        zh, en = reductions[name]
        return (f"沿{_dim_zh(d)}{zh}" + ("（保留该维）" if keep else ""),
                f"{en} over {_dim_en(d)}" + (" (kept)" if keep else ""))
    simple = {
        "relu": ("ReLU 激活：负数变 0", "ReLU: negatives become 0"), "relu6": ("ReLU6 激活", "ReLU6"),
        "gelu": ("GELU 激活", "GELU activation"), "silu": ("SiLU（Swish）激活", "SiLU (swish) activation"),
        "sigmoid": ("Sigmoid：压到 (0, 1)，得到门控权重", "sigmoid: squash to (0, 1), a gate"),
        "hardsigmoid": ("Hardsigmoid：压到 [0, 1]", "hard sigmoid: squash to [0, 1]"),
        "tanh": ("Tanh：压到 (-1, 1)", "tanh: squash to (-1, 1)"), "leaky_relu": ("LeakyReLU 激活", "leaky ReLU"),
        "elu": ("ELU 激活", "ELU activation"), "mish": ("Mish 激活", "Mish activation"),
        "hardswish": ("Hardswish 激活", "hard swish activation"), "softplus": ("Softplus 激活", "softplus"),
        "exp": ("取指数", "exponential"), "log": ("取对数", "logarithm"), "sqrt": ("开平方", "square root"),
        "rsqrt": ("开平方取倒数", "reciprocal square root"), "abs": ("取绝对值", "absolute value"),
        "neg": ("取相反数", "negate"), "__neg__": ("取相反数", "negate"), "pow": ("求幂", "power"),
        "__pow__": ("求幂", "power"), "clamp": ("截断到区间", "clamp to a range"), "clip": ("截断到区间", "clamp"),
        "where": ("按条件二选一", "select by a condition"), "masked_fill": ("按掩码填入常数", "fill where masked"),
        "layer_norm": ("层归一化", "layer norm"), "batch_norm": ("批归一化", "batch norm"),
        "group_norm": ("分组归一化", "group norm"), "instance_norm": ("实例归一化", "instance norm"),
        "normalize": ("归一化为单位长度（L2）", "normalise to unit length (L2)"),
        "dropout": ("Dropout", "dropout"), "contiguous": ("整理为连续内存", "make contiguous in memory"),
        "expand": ("扩展（广播）到更大形状，不复制", "expand (broadcast) to a larger shape, no copy"),
        "expand_as": ("扩展成另一张量的形状", "expand to another tensor's shape"),
        "repeat": ("沿各维重复拷贝", "repeat along each axis"), "tile": ("沿各维重复拷贝", "tile along each axis"),
        "repeat_interleave": ("逐元素重复", "repeat each element"), "roll": ("循环移位", "roll (cyclic shift)"),
        "flip": ("翻转", "flip"), "pad": ("在边缘填充", "pad the borders"),
        "__getitem__": ("索引 / 切片", "index / slice"), "index_select": ("按索引选取", "select by index"),
        "gather": ("按索引收集", "gather by index"), "scaled_dot_product_attention":
            ("缩放点积注意力：softmax(QKᵀ/√d)·V", "scaled dot-product attention: softmax(QK^T/sqrt(d)) V"),
        "clone": ("复制一份", "copy"), "detach": ("切断梯度（detach）", "stop the gradient (detach)"),
        "to": ("转换类型或设备", "convert dtype or device"), "float": ("转为 float32", "convert to float32"),
        "half": ("转为 float16", "convert to float16"), "type_as": ("转为另一张量的类型", "convert to another's dtype"),
        "zeros": ("新建全 0 张量", "new tensor of zeros"), "ones": ("新建全 1 张量", "new tensor of ones"),
        "zeros_like": ("新建同形状的全 0 张量", "zeros of the same shape"),
        "ones_like": ("新建同形状的全 1 张量", "ones of the same shape"), "arange": ("新建等差序列", "new range"),
        "empty": ("新建未初始化张量", "new uninitialised tensor"), "full": ("新建常数张量", "new constant tensor"),
        "randn": ("新建随机张量", "new random tensor"), "rand": ("新建随机张量", "new random tensor"),
        "tensor": ("新建张量", "new tensor"), "as_tensor": ("转为张量", "as a tensor"),
        "cumsum": ("累加", "cumulative sum"), "topk": ("取前 k 大", "top k"), "sort": ("排序", "sort"),
        "outer": ("外积", "outer product"), "diag": ("对角线", "diagonal"), "tril": ("取下三角", "lower triangle"),
        "triu": ("取上三角", "upper triangle"), "sign": ("取符号", "sign"), "floor": ("向下取整", "floor"),
        "round": ("四舍五入", "round"), "cos": ("取余弦", "cosine"), "sin": ("取正弦", "sine"),
        "multi_head_attention_forward": ("多头注意力（PyTorch 内置）", "multi-head attention (PyTorch built-in)"),
        "embedding": ("嵌入查表", "embedding lookup"), "one_hot": ("独热编码", "one-hot encoding"),
        "get:real": ("取实部", "real part"), "get:imag": ("取虚部", "imaginary part"),
    }
    if name in simple:
        return simple[name]
    if name.startswith("__") and name.endswith("__"):
        name = name.strip("_")
    return f"调用 {name}", f"call {name}"


def _describe(call: _Call, piece: int, spec: list[str]) -> tuple[str, str]:
    """The zh and en description of output `piece` of `call`, whose spec is `spec`."""
    if call.kind == "module":
        text = None
        for cls in type(call.module).__mro__:
            if cls.__name__ in _MODULE_TEXT:
                try:
                    text = _MODULE_TEXT[cls.__name__](call.module)
                except Exception:  # noqa: BLE001 - a subclass without the usual attributes: say it plainly
                    text = None
                break
        zh, en = text or (f"调用 {call.name}", f"call {call.name}")
    else:
        try:
            zh, en = _describe_function(call, spec)
        except Exception:  # noqa: BLE001 - unusual arguments: fall back to the op's name
            zh, en = f"调用 {call.name}", f"call {call.name}"
    n = len(call.shapes)
    if n > 1:
        if call.fields:
            zh, en = zh + f"（{call.fields[piece]}）", en + f" ({call.fields[piece]})"
        elif call.name in ("chunk", "split", "tensor_split", "split_with_sizes", "unbind"):
            zh, en = zh + f"：第 {piece + 1}/{n} 份", en + f": piece {piece + 1}/{n}"
        else:
            zh, en = zh + f"（输出 {piece + 1}/{n}）", en + f" (output {piece + 1}/{n})"
    return zh, en


# --------------------------------------------------------------------------- recording

_NAMES: dict[Any, str] = {}
_TENSOR_GETTERS = {"T", "mT", "H", "mH", "real", "imag"}
_SKIP = {"requires_grad_", "retain_grad", "register_hook", "__setitem__", "__torch_function__", "__reduce_ex__",
         "__deepcopy__"}


def _name_of(func: Any) -> str:
    name = getattr(func, "__name__", None) or type(func).__name__
    if name == "__get__":
        owner = getattr(func, "__self__", None)
        prop = getattr(owner, "__name__", "?")
        return f"get:{prop}" if prop in _TENSOR_GETTERS else ""
    if name in _SKIP:
        return ""
    _NAMES[func] = name
    return name


def _field_names(out: Any) -> tuple[str, ...]:
    """("values", "indices") for torch.max(x, dim) and the other named results; () for plain tuples."""
    if isinstance(out, tuple) and type(out).__module__ == "torch.return_types":
        attrs = [a for a in dir(out) if not a.startswith(("_", "n_")) and a not in ("count", "index")]
        return tuple(next((a for a in attrs if getattr(out, a) is item), str(i)) for i, item in enumerate(out))
    return tuple(getattr(out, "_fields", ()))


def _tensors(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [v for v in value if isinstance(v, Tensor)]
    return []


class _Recorder(TorchFunctionMode):
    """Records tensor-producing calls: leaf modules through hooks, everything else through the mode."""

    def __init__(self, info: dict[int, tuple[str, str, bool]], classes: dict[str, type], detailed: bool, keep: bool):
        super().__init__()
        self.info = info
        self.classes = classes
        self.detailed = detailed
        self.keep = keep
        self.stack: list[tuple[str, str]] = []
        self.leaf = 0
        self.calls: list[_Call] = []
        self.current = ""  # the op in progress, named in errors

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if kwargs is None:
            kwargs = {}
        if self.leaf:
            return func(*args, **kwargs)
        name = _NAMES.get(func)
        if name is None:
            name = _name_of(func)
        if not name:
            return func(*args, **kwargs)
        self.current = name
        out = func(*args, **kwargs)
        tensors = _tensors(out)
        if tensors:
            path, block = self.stack[-1] if self.stack else ("", "")
            self._add("function", name, path, block, None, args, kwargs, out, tensors, sys._getframe(1))
        return out

    def _add(self, kind, name, path, block, module, args, kwargs, out, tensors, frame) -> None:
        call = _Call(kind, name, path, block, [tuple(t.shape) for t in tensors])
        if self.detailed:
            call.module, call.args, call.kwargs = module, args, kwargs
            call.fields = _field_names(out) if len(tensors) > 1 else ()
            call.file, call.lineno = _user_line(frame, type(module) if module is not None else self.classes.get(path))
            if self.keep:
                call.values = [t.detach().clone() for t in tensors]
        self.calls.append(call)

    def enter(self, module: nn.Module, _args: Any) -> None:
        path, block, leaf = self.info.get(id(module), ("?", type(module).__name__, False))
        self.stack.append((path, block))
        if leaf:
            self.leaf += 1
            self.current = f"{block} {path}".rstrip()

    def leave(self, module: nn.Module, args: Any, out: Any) -> None:
        path, block, leaf = self.info.get(id(module), ("?", type(module).__name__, False))
        if self.stack:
            self.stack.pop()
        if leaf:
            if self.leaf == 1:  # still counted as inside the leaf: the mode ignores our own tensor calls
                tensors = _tensors(out)
                if tensors:  # the row belongs to the caller's group; the leaf's name goes in its description
                    owner, owner_block = self.stack[-1] if self.stack else ("", "")
                    self._add("module", block, owner, owner_block, module, args, {}, out, tensors, sys._getframe(1))
                    self.calls[-1].part = path[len(owner) + 1:] if owner else path
            self.leaf -= 1


def _user_line(frame: Any, cls: type | None) -> tuple[str, int]:
    """The user's source line that made the op (the first frame outside torch and this file), else the
    first line of `cls.forward`."""
    while frame is not None:
        name = frame.f_code.co_filename
        if frame.f_code is _execute.__code__:
            break
        if not name.startswith(_TORCH_DIR) and name != _THIS_FILE:
            return short_path(name), frame.f_lineno
        frame = frame.f_back
    code = getattr(getattr(cls, "forward", None), "__code__", None)
    if code is None:
        return "?", 0
    if code.co_filename.startswith(_TORCH_DIR):  # torch's own class: torch/nn/modules/conv.py, no local path
        return "torch/" + os.path.relpath(code.co_filename, _TORCH_DIR).replace(os.sep, "/"), code.co_firstlineno
    return short_path(code.co_filename), code.co_firstlineno


class _Hooked:
    """A model with our hooks on every submodule; they report to whichever recorder is current."""

    def __init__(self, model: nn.Module):
        self.model = model
        # A leaf (one row per call) is a module without children; a root of your own is opened all the same.
        self.info = {id(m): (name, type(m).__name__, not any(True for _ in m.children())
                             and (bool(name) or type(m).__module__.startswith("torch.")))
                     for name, m in model.named_modules(remove_duplicate=False)}
        self.classes = {name: type(m) for name, m in model.named_modules()}
        self.recorder: _Recorder | None = None
        self.handles = []
        for m in model.modules():
            self.handles.append(m.register_forward_pre_hook(self._enter))
            self.handles.append(m.register_forward_hook(self._leave))

    def _enter(self, module, args):
        if self.recorder is not None:
            self.recorder.enter(module, args)

    def _leave(self, module, args, out):
        if self.recorder is not None:
            self.recorder.leave(module, args, out)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _execute(hooked: _Hooked, inputs: Sequence[Any], *, detailed: bool, keep: bool = False) -> tuple[_Recorder, Any]:
    """Runs the hooked model once under a recorder (shape-only on meta); returns the recorder and the output."""
    recorder = _Recorder(hooked.info, hooked.classes, detailed, keep)
    hooked.recorder = recorder
    meta = any(isinstance(x, Tensor) and x.device.type == "meta" for x in inputs)
    try:
        with torch.no_grad():
            if meta:
                with ShapeOnlyMode(count=False), recorder:
                    output = hooked.model(*inputs)
            else:
                with recorder:
                    output = hooked.model(*inputs)
    except Exception as e:
        e._autotrace_step = (len(recorder.calls) + 1, recorder.current)  # type: ignore[attr-defined]
        raise
    finally:
        hooked.recorder = None
    return recorder, output


def _signature(calls: list[_Call]) -> tuple:
    return tuple((c.kind, c.name, tuple(len(s) for s in c.shapes)) for c in calls)


# --------------------------------------------------------------------------- inputs, names and samples

_ALLOWED = (ast.Expression, ast.BinOp, ast.Name, ast.Constant, ast.Load, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)


@dataclass
class _InputDims:
    """The dims of one tensor input: a name, a literal or an expression per axis."""

    texts: list[str]
    codes: list[Any]  # None for a name or a literal

    def shape(self, env: dict[str, int]) -> tuple[int, ...]:
        out = []
        for text, code in zip(self.texts, self.codes):
            if code is not None:
                out.append(eval(code, {"__builtins__": {}}, env))  # noqa: S307 - ast-checked arithmetic
            elif text.isdigit():
                out.append(int(text))
            else:
                out.append(env[text])
        return tuple(out)


def _bind_inputs(inputs: Sequence[Any], dims: Any) -> tuple[list[_InputDims | None], dict[str, int]]:
    """Names for every axis of every tensor input, bound to their sizes; checks `dims`."""
    tensors = [i for i, x in enumerate(inputs) if isinstance(x, Tensor)]
    if not tensors:
        raise value_error("autotrace", "at least one input must be a tensor",
                          {"inputs": [type(x).__name__ for x in inputs]},
                          "Example: autotrace(model, torch.randn(1, 64, 32, 32)).",
                          zh="至少要有一个张量输入", zh_hint="例如 autotrace(model, torch.randn(1, 64, 32, 32))。")
    if dims is None:
        given: list[str | None] = [None] * len(tensors)
    elif isinstance(dims, str):
        given = [dims] + [None] * (len(tensors) - 1)
    elif isinstance(dims, (list, tuple)) and all(d is None or isinstance(d, str) for d in dims):
        given = list(dims)
        if len(given) != len(tensors):
            raise value_error("autotrace", "dims must hold one string per tensor input",
                              {"len(dims)": len(given), "tensor inputs": len(tensors)},
                              'Example: dims=["B C H W", "B 2*C H W"].',
                              zh="dims 要为每个张量输入给一个字符串", zh_hint='例如 dims=["B C H W", "B 2*C H W"]。')
    else:
        raise type_error("autotrace", "dims must be a string or a list of strings", {"dims": dims},
                         'Example: dims="B C H W" or dims=["B C H W", "B 2*C H W"].',
                         zh="dims 必须是字符串或字符串列表", zh_hint='例如 dims="B C H W"。')
    bound: dict[str, int] = {}
    specs: list[_InputDims | None] = [None] * len(inputs)
    for number, (i, text) in enumerate(zip(tensors, given)):
        x = inputs[i]
        shape = tuple(x.shape)
        label = f"inputs[{i}]"
        specs[i] = _default_dims(shape, number, bound) if text is None else _parse_dims(text, shape, label, bound)
    return specs, bound


def _default_dims(shape: tuple[int, ...], number: int, bound: dict[str, int]) -> _InputDims:
    names = _DEFAULT_NAMES.get(len(shape), ["B"] + [f"d{i}" for i in range(1, len(shape))])
    texts = []
    for name, size in zip(names, shape):
        if number and bound.get(name, size) != size:
            name = f"{name}{number + 1}"
        texts.append(name)
        bound.setdefault(name, size)
    return _InputDims(texts, [None] * len(texts))


def _parse_dims(text: str, shape: tuple[int, ...], label: str, bound: dict[str, int]) -> _InputDims:
    parts = text.split()
    if len(parts) != len(shape):
        raise value_error("autotrace", "dims must name one size per axis of the input",
                          {"dims": text, f"{label}.shape": shape},
                          f"Give {len(shape)} names, e.g. dims={' '.join(_DEFAULT_NAMES.get(len(shape), ['B']))!r}.",
                          zh="dims 要为输入的每一维给一个名字",
                          zh_hint=f"请给出 {len(shape)} 个名字。")
    env = dict(bound)
    codes: list[Any] = []
    for part, size in zip(parts, shape):
        if part.isdigit():
            if int(part) != size:
                raise value_error("autotrace", "a literal in dims must equal the input's size",
                                  {"dims": text, f"{label}.shape": shape}, "Use a name for a size that varies.",
                                  zh="dims 中的数字必须等于输入的实际尺寸", zh_hint="会变化的尺寸请用名字。")
            codes.append(None)
        elif part.isidentifier():
            if part in env and env[part] != size:
                raise value_error("autotrace", f"the name {part} must have one size in every input",
                                  {"dims": text, f"{label}.shape": shape, part: env[part]},
                                  "Use another name for a size that differs.",
                                  zh=f"名字 {part} 在各个输入中必须是同一个尺寸", zh_hint="尺寸不同时请换个名字。")
            env[part] = size
            codes.append(None)
        else:
            try:
                tree = ast.parse(part, mode="eval")
            except SyntaxError:
                tree = None
            if tree is None or not all(isinstance(n, _ALLOWED) for n in ast.walk(tree)):
                raise value_error("autotrace", "a dim must be a name, an int or an expression of + - * // without "
                                  "spaces", {"dims": text, "dim": part}, 'Example: "B 2*C H W".',
                                  zh="每一维须是名字、整数或不含空格的 + - * // 表达式", zh_hint='例如 "B 2*C H W"。')
            missing = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(env))
            if missing:
                raise value_error("autotrace", "an expression in dims may only use names bound earlier",
                                  {"dims": text, "unbound": missing}, "Name the size first, in an earlier input.",
                                  zh="dims 中的表达式只能用前面已绑定的名字",
                                  zh_hint="请先在前面的输入里给这个尺寸命名。")
            code = compile(tree, "<dims>", "eval")
            value = eval(code, {"__builtins__": {}}, dict(env))  # noqa: S307 - ast-checked arithmetic
            if value != size:
                raise value_error("autotrace", "an expression in dims must equal the input's size",
                                  {"dims": text, "dim": part, "value": value, f"{label}.shape": shape},
                                  "Check the expression against the input.",
                                  zh="dims 中的表达式必须等于输入的实际尺寸", zh_hint="请对照输入检查表达式。")
            codes.append(code)
    for part, size in zip(parts, shape):
        if part.isidentifier():
            bound.setdefault(part, size)
    return _InputDims(parts, codes)


@dataclass
class _Sample:
    env: dict[str, int]
    moved: str | None  # the name moved on its own; None for the base; "*" for the joint run
    calls: list[_Call]


@dataclass
class _Plan:
    """Builds models and meta inputs for a setting of the names, caching built models."""

    source: Any  # an nn.Module, or a factory
    factory_names: tuple[str, ...]  # the names the factory takes by keyword; "C" may instead go first (below)
    specs: list[_InputDims | None]
    inputs: Sequence[Any]
    models: dict[tuple, _Hooked] = field(default_factory=dict)
    channel_first: bool = False  # C goes to the factory's first parameter (SAFM(dim), MyBlock(channels))

    def model(self, env: dict[str, int]) -> _Hooked:
        key = tuple(env[n] for n in self.factory_names)
        if key not in self.models:
            if isinstance(self.source, nn.Module):
                built = meta_twin(self.source)
            else:
                args = (env["C"],) if self.channel_first else ()
                kwargs = {n: env[n] for n in self.factory_names if not (n == "C" and self.channel_first)}
                with torch.device("meta"):
                    built = self.source(*args, **kwargs)
                if not isinstance(built, nn.Module):
                    raise type_error("autotrace", "the factory must return an nn.Module",
                                     {"type": type(built).__name__}, "Example: autotrace(lambda C: SEBlock(C), x).",
                                     zh="工厂函数必须返回 nn.Module",
                                     zh_hint="例如 autotrace(lambda C: SEBlock(C), x)。")
            self.models[key] = _Hooked(built)
        return self.models[key]

    def meta_inputs(self, env: dict[str, int]) -> list[Any]:
        out = []
        for x, spec in zip(self.inputs, self.specs):
            if spec is None:
                out.append(x)
            else:
                out.append(torch.empty(spec.shape(env), dtype=x.dtype, device="meta"))
        return out

    def run(self, env: dict[str, int], detailed: bool = False) -> tuple[_Recorder, Any]:
        if detailed:
            return _execute(self.model(env), self.meta_inputs(env), detailed=True)
        with warnings.catch_warnings():  # the base run has shown them once
            warnings.simplefilter("ignore")
            return _execute(self.model(env), self.meta_inputs(env), detailed=False)

    def close(self) -> None:
        for hooked in self.models.values():
            hooked.remove()



def _short_reason(error: BaseException) -> str:
    """The first clause of an error message: ``CBAMBlock: built for HW=49 but the input is 14x7 (HW=98)``."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = text.split("; ", 1)[0]
    return text if len(text) <= 110 else text[:107] + "..."


def _fixed_reason(plan: _Plan, name: str, value: int, reason: str) -> str:
    """Why a name cannot move: a built module's weights fix its channels; otherwise the module's own message."""
    if name == "C" and isinstance(plan.source, nn.Module):
        return f"built for C={value}: its weights fix the channels (pass the class or a factory to vary C)"
    return reason


def _try_sample(plan: _Plan, env: dict[str, int], moved: str, signature: Any, samples: list[_Sample]) -> bool:
    """Runs the module at `env`; keeps the sample when it runs with the same steps."""
    try:
        recorder, _ = plan.run(env)
    except Exception:  # noqa: BLE001 - optional samples only refine and check the fit
        return False
    if _signature(recorder.calls) != signature:
        return False
    samples.append(_Sample(env, moved, recorder.calls))
    return True


def _joint(plan: _Plan, names: dict[str, int], changes: dict[str, Callable[[int], int]], signature: Any,
           samples: list[_Sample]) -> bool:
    """One run with the names in `changes` changed together, each by its own function."""
    if not changes:
        return False
    env = {n: changes[n](v) if n in changes else v for n, v in names.items()}
    return _try_sample(plan, env, "*", signature, samples)


def _samples(plan: _Plan, names: dict[str, int], base: _Sample) -> tuple[list[_Sample], dict[str, str]]:
    """The perturbed runs: each name x2 and x3 on its own (x4 if one fails), then odd sizes (+1) for them."""
    signature = _signature(base.calls)
    samples: list[_Sample] = []
    fixed: dict[str, str] = {}
    for name, value in names.items():
        good, reason, failed = [], "", 0
        for new in (2 * value, 3 * value, 4 * value):
            if len(good) == 2 or failed == 2:
                break
            env = {**names, name: new}
            try:
                recorder, _ = plan.run(env)
            except Exception as e:  # noqa: BLE001 - a module that rejects the size fixes the name
                reason, failed = reason or _short_reason(e), failed + 1
                continue
            if _signature(recorder.calls) != signature:
                reason, failed = reason or "the steps change with the size", failed + 1
                continue
            good.append(_Sample(env, name, recorder.calls))
        if len(good) < 2:
            fixed[name] = _fixed_reason(plan, name, names[name], reason)
            continue
        samples.extend(good)
    # Odd sizes tell H//2 from (H+1)//2, and a joint run checks that products and sums combine the names
    # as solved. All movable names +1 together; where the module refuses that (C must be divisible by the
    # heads, say), +1 for each name that takes it on its own, then those +1 together with the rest +8 (or x2).
    moving = [n for n in names if n not in fixed]
    if not _joint(plan, names, {n: (lambda v: v + 1) for n in moving}, signature, samples):
        odd = []
        for name in moving:
            env = {**names, name: names[name] + 1}
            if _try_sample(plan, env, name, signature, samples):
                odd.append(name)
        for bump in ((lambda v: v + 8), (lambda v: 2 * v)):  # +8 keeps multiples of 2, 4 and 8
            if _joint(plan, names, {n: (lambda v: v + 1) if n in odd else bump for n in moving}, signature, samples):
                break
    return samples, fixed


# --------------------------------------------------------------------------- solving the sizes

_KS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 32, 64)


@dataclass(frozen=True)
class _Atom:
    """``(p*name + c)//k``: one name's factor or term."""

    name: str
    p: int = 1
    c: int = 0
    k: int = 1

    def __call__(self, x: int) -> int:
        return (self.p * x + self.c) // self.k

    @property
    def score(self) -> float:
        return (1 + (self.p != 1) + (self.k != 1) + (self.c != 0)
                + 0.001 * (self.p + self.k) + 0.0001 * abs(self.c))

    def text(self, in_product: bool = False) -> str:
        body = self.name if self.p == 1 else f"{self.p}*{self.name}"
        if self.c:
            body += f"{self.c:+d}"
        if self.k == 1:
            return f"({body})" if in_product and self.c else body
        if self.c or self.p != 1:
            body = f"({body})"
        text = f"{body}//{self.k}"
        return f"({text})" if in_product else text


def _factor_atoms() -> list[_Atom]:
    """``(name+c)//k`` with |c| < k, and ``name+c`` with |c| <= 8, simplest first: the factors of products."""
    atoms = [_Atom("?", 1, c, k) for k in _KS[1:] for c in range(-(k - 1), k)]
    atoms += [_Atom("?", 1, c, 1) for c in range(-8, 9)]
    return sorted(atoms, key=lambda a: a.score)


_FACTORS = _factor_atoms()
_FACTOR_C = np.array([a.c for a in _FACTORS], dtype=np.int64)
_FACTOR_K = np.array([a.k for a in _FACTORS], dtype=np.int64)
_FACTOR_SCORE = np.array([a.score for a in _FACTORS])
_MAX_FACTORS = 12  # candidate factors kept per name, simplest first


class _Solver:
    """Finds, for each size of each row, the simplest expression that fits every run.

    A size that never changes is a literal. One that changes with one name is fitted as
    ``(p*n+c)//k`` (c solved exactly from the runs). One that changes with several names is tried
    as a product ``K*f(a)*g(b)`` and then as a sum of two such terms, where each factor is
    ``(n+c)//k``: the factors consistent with each name's own runs are found on a table of their
    values, and every combination is checked on all runs, the simplest first.
    """

    def __init__(self, names: dict[str, int], samples: list[_Sample], fixed: dict[str, str],
                 positions: dict[str, int]):
        self.names = names
        self.envs = [s.env for s in samples]
        self.fixed = fixed
        self.positions = positions  # name -> axis position from the end in the input that bound it
        moved = [s.moved for s in samples]
        self.lines = {n: [i for i, m in enumerate(moved) if m in (None, n)] for n in names}
        self.cache: dict[tuple, str | None] = {}
        self.tables: dict[str, np.ndarray] = {}

    def solve(self, values: tuple[int, ...], axis_from_end: int) -> str | None:
        """The spec text of one size, given its value in every run (base first); None if nothing fits."""
        key = (values, axis_from_end)
        if key not in self.cache:
            self.cache[key] = self._solve(values, axis_from_end)
        return self.cache[key]

    def _solve(self, values: tuple[int, ...], axis_from_end: int) -> str | None:
        v0 = values[0]
        if all(v == v0 for v in values):
            return self._constant(v0, axis_from_end)
        depends = [n for n in self.names if n not in self.fixed and any(values[i] != v0 for i in self.lines[n])]
        if not depends:
            return None
        text = self._single(depends[0], values) if len(depends) == 1 else None
        if text is None:  # several names, or one inside a product such as 2*((H+1)//2)
            array = np.array(values, dtype=np.int64)
            text = self._product(depends, array) or self._sum(depends, array)
        return text

    def _constant(self, value: int, axis_from_end: int) -> str:
        """A literal, or the name of a fixed size of the same value (C stays C when C cannot move)."""
        if value > 1:
            same = [n for n in self.fixed if self.names[n] == value]
            if same:
                return next((n for n in same if self.positions.get(n) == axis_from_end), same[0])
        return str(value)

    def _fits(self, text: str, values: Sequence[int]) -> bool:
        try:
            code = compile(text, "<spec>", "eval")
            return all(eval(code, {"__builtins__": {}}, env) == v  # noqa: S307 - our own arithmetic
                       for env, v in zip(self.envs, values))
        except (ZeroDivisionError, SyntaxError, NameError):
            return False

    def _single(self, name: str, values: tuple[int, ...]) -> str | None:
        xs = [env[name] for env in self.envs]
        if all(x == v for x, v in zip(xs, values)):
            return name
        best: _Atom | None = None
        for p in range(1, 9):
            for k in _KS:
                if math.gcd(p, k) != 1:
                    continue
                lo, hi = -math.inf, math.inf
                for x, v in zip(xs, values):  # (p*x + c)//k == v  <=>  k*v - p*x <= c <= k*v - p*x + k - 1
                    lo, hi = max(lo, k * v - p * x), min(hi, k * v - p * x + k - 1)
                    if lo > hi:
                        break
                else:
                    c = 0 if lo <= 0 <= hi else int(lo if lo > 0 else hi)
                    atom = _Atom(name, p, c, k)
                    if best is None or atom.score < best.score:
                        best = atom
        return best.text() if best is not None else None

    def _table(self, name: str) -> np.ndarray:
        """Values of every factor atom of `name` in every run (atoms x runs)."""
        if name not in self.tables:
            xs = np.array([env[name] for env in self.envs], dtype=np.int64)
            self.tables[name] = (xs[None, :] + _FACTOR_C[:, None]) // _FACTOR_K[:, None]
        return self.tables[name]

    def _factors(self, name: str, values: np.ndarray, additive: bool) -> list[int]:
        """Atoms f with values ∝ f(name) (products) or values - v0 ∝ f(name) - f(name0) (sums) on name's runs."""
        line = self.lines[name]
        table = self._table(name)[:, line]
        vs = values[line]
        if additive:
            step = table[:, 1] - table[:, 0]
            dv = vs[1] - vs[0]
            ok = (step != 0) & ((vs[None, :] - vs[0]) * step[:, None] == dv * (table - table[:, :1])).all(1)
            ok &= dv % np.where(step == 0, 1, step) == 0
        else:
            ok = (table[:, 0] > 0) & (vs[None, :] * table[:, :1] == vs[0] * table).all(1)
        return list(np.flatnonzero(ok)[:_MAX_FACTORS])

    def _factor_text(self, name: str, index: int, in_product: bool) -> str:
        proto = _FACTORS[index]
        return _Atom(name, 1, proto.c, proto.k).text(in_product)

    def _product(self, depends: list[str], values: np.ndarray) -> str | None:
        v0 = int(values[0])
        if v0 <= 0:
            return None
        options = [self._factors(n, values, additive=False) for n in depends]
        if not all(options):
            return None
        tables = [self._table(n) for n in depends]
        combos = sorted(itertools.product(*options), key=lambda combo: sum(_FACTOR_SCORE[i] for i in combo))
        for combo in combos:
            rows = [table[i] for table, i in zip(tables, combo)]
            base = math.prod(int(r[0]) for r in rows)
            if base <= 0 or v0 % base:
                continue
            K = v0 // base
            if not (K * np.prod(rows, axis=0) == values).all():
                continue
            factors = [self._factor_text(n, i, len(depends) > 1 or K != 1) for n, i in zip(depends, combo)]
            if K != 1:
                factors.insert(0, self._constant(K, 0))
            text = "*".join(factors)
            if self._fits(text, values.tolist()):
                return text
        return None

    def _sum(self, depends: list[str], values: np.ndarray) -> str | None:
        """``T+c`` with one product term over all the names (``H*W-2``), else ``T1+T2(+c)`` for each split
        of the names in two groups (``C+H*W``)."""
        v0 = int(values[0])
        options = {n: self._factors(n, values, additive=True)[:3] for n in depends}
        if not all(options.values()):
            return None
        first, rest = depends[0], depends[1:]
        splits = [[list(depends)]] + [[[first, *extra], [n for n in rest if n not in extra]]
                                      for r in range(len(rest)) for extra in itertools.combinations(rest, r)]
        for groups in splits:
            for combo in itertools.product(*(options[n] for n in depends)):
                chosen = dict(zip(depends, combo))
                terms = [self._term(group, chosen, values) for group in groups]
                if None in terms:
                    continue
                c = v0 - sum(value for _text, value in terms)
                text = "+".join(t for t, _v in terms) + (f"{c:+d}" if c else "")
                if self._fits(text, values.tolist()):
                    return text
        return None

    def _term(self, group: list[str], chosen: dict[str, int], values: np.ndarray) -> tuple[str, int] | None:
        """The product term K*f(a)*g(b) over `group` and its value in the base run, or None."""
        at_base = {n: int(self._table(n)[chosen[n], 0]) for n in group}
        Ks = set()
        for n in group:
            i = self.lines[n][1]
            step = int(self._table(n)[chosen[n], i]) - at_base[n]
            slope = int(values[i] - values[0]) // step
            others = math.prod(at_base[m] for m in group if m != n)
            if others <= 0 or slope % others:
                return None
            Ks.add(slope // others)
        K = Ks.pop() if len(Ks) == 1 else 0
        if K <= 0:
            return None
        factors = [self._factor_text(n, chosen[n], len(group) > 1 or K != 1) for n in group]
        if K != 1:
            factors.insert(0, self._constant(K, 0))
        return "*".join(factors), K * math.prod(at_base.values())


# --------------------------------------------------------------------------- the trace

class AutoTrace(Trace):
    """A `Trace` built by `autotrace`; it also lists the names it could not move (`fixed`) and unsolved sizes.

    Attributes:
        fixed: ``{name: reason}`` for the names the module would not take at other sizes.
        notes: ``(zh, en)`` lines about sizes that fit no simple expression.
    """

    fixed: dict[str, str]
    notes: list[tuple[str, str]]


def _fixed_remark(fixed: dict[str, str]) -> tuple[str, str]:
    """One ``(zh, en)`` line for the names that stay fixed; reasons that differ only in numbers go together."""
    groups: dict[str, tuple[str, list[str]]] = {}
    zh_parts, en_parts = [], []
    for name, reason in fixed.items():
        built = re.match(r"built for C=(\d+):", reason)
        if built:  # a built module: say it in both languages, it is the usual case
            zh_parts.append(f"C（模块按 C={built.group(1)} 构建，权重决定了通道数；想让 C 变化，请传入类或工厂函数）")
            en_parts.append(f"C ({reason})")
            continue
        groups.setdefault(re.sub(r"\d+", "#", reason), (reason, []))[1].append(name)
    zh_parts += [f"{'、'.join(ns)}（模块不接受其他尺寸：{r}）" for r, ns in groups.values()]
    en_parts += [f"{', '.join(ns)} (the module rejects other sizes: {r})" for r, ns in groups.values()]
    return "固定：" + "；".join(zh_parts), "fixed: " + "; ".join(en_parts)


def _make_step(index: int, call: _Call, piece: int, spec: list[str]) -> Step:
    """The one place that turns a recorded call into a trace row."""
    zh, en = _describe(call, piece, spec)
    name = call.part.rsplit(".", 1)[-1]
    if name and not name.isdigit() and not en.lower().startswith(name.lower()):
        zh, en = f"{call.part}：{zh}", f"{call.part}: {en}"
    return Step(index=index, module=call.path, block=call.block, zh=zh, en=en, spec=" ".join(spec),
                shape=call.shapes[piece], file=call.file, lineno=call.lineno)


def _make_trace(name: str, rows: list[Step], symbols: dict[str, int], inputs: list[Any], output: Any, lang: str,
                fixed: dict[str, str], notes: list[tuple[str, str]]) -> AutoTrace:
    """The one place that builds the trace object."""
    remarks = ([_fixed_remark(fixed)] if fixed else []) + list(notes)
    result = AutoTrace(name, rows, {"": dict(symbols)}, {}, inputs, output, lang, remarks=remarks)
    result.fixed = fixed
    result.notes = notes
    return result


def _rows(calls: list[_Call], specs: Callable[[int, int, tuple[int, ...]], list[str]]) -> list[Step]:
    rows = []
    for i, call in enumerate(calls):
        for piece, shape in enumerate(call.shapes):
            rows.append(_make_step(len(rows) + 1, call, piece, specs(i, piece, shape)))
    return rows


def _factory_names(source: Any, names: dict[str, int]) -> tuple[tuple[str, ...], bool]:
    """The dim names a factory takes by keyword, and whether C goes to its first parameter instead.

    A class or function whose first parameter has no default and is not named like a dim (``SAFM(dim)``,
    ``MyBlock(channels)``) gets C there, as `explore` and the CLI do.
    """
    if isinstance(source, nn.Module):
        return (), False
    try:
        parameters = inspect.signature(source).parameters
    except (TypeError, ValueError):
        return (), False
    taken = tuple(n for n in names if n in parameters)
    positional = [p for p in parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    first = positional[0] if positional else None
    channel_first = ("C" in names and first is not None and first.default is inspect.Parameter.empty
                     and first.name not in names)
    return (taken + ("C",) if channel_first and "C" not in taken else taken), channel_first


def autotrace(module: nn.Module | Callable[..., nn.Module], *inputs: Any, dims: str | Sequence[str] | None = None,
              lang: str | None = None) -> Trace:
    """Traces any module with no `note` calls: one row per step, symbolic specs, zh and en descriptions.

    Args:
        module: The module (never moved or changed: a meta twin runs), or a factory (a class or a
            function) whose parameters named like the dims (``C``, ``H`` ...) receive the sizes, so
            that those names can be moved by rebuilding it.
        *inputs: The forward arguments; only the shapes and dtypes of tensors are used.
        dims: Names for the axes: a string for the first tensor input (``"B N C"``), or a list with
            one per tensor input; later inputs may use expressions (``"B 2*C H W"``). Default:
            ``B C H W`` for 4-D, ``B N C`` for 3-D, ``B C`` for 2-D; a later input's size that
            differs from the first's gets a numbered name (``C2``).
        lang: 'zh', 'en' or 'both'; None uses `fusion_edu.lang.get_lang()`.

    Returns:
        A `Trace` (an `AutoTrace`) whose ``symbols`` are the bound names; every row's ``spec``
        evaluates to its concrete shape with them.

    Raises:
        TypeError, ValueError: A bad argument (not a module, dims that do not fit the inputs).
        RuntimeError: ``"autotrace failed at step k (<op>): ..."`` when the module fails on the inputs.
    """
    lang = resolve(lang, "autotrace")
    if not isinstance(module, nn.Module) and not callable(module):
        raise type_error("autotrace", "module must be an nn.Module or a factory that builds one",
                         {"type": type(module).__name__}, "Example: autotrace(model, torch.randn(1, 64, 32, 32)).",
                         zh="module 必须是 nn.Module 或构建它的工厂函数",
                         zh_hint="例如 autotrace(model, torch.randn(1, 64, 32, 32))。")
    specs, names = _bind_inputs(inputs, dims)
    taken, channel_first = _factory_names(module, names)
    plan = _Plan(module, taken, specs, inputs, channel_first=channel_first)
    try:
        try:
            recorder, output = plan.run(names, detailed=True)
        except Exception as e:
            if getattr(e, "_autotrace_step", None) is None:
                raise  # building the model failed, not running it: the constructor's own error
            raise _failure(e, module) from e
        base = _Sample(dict(names), None, recorder.calls)
        samples, fixed = _samples(plan, names, base)
    finally:
        plan.close()
    positions = {}
    for spec in specs:
        if spec is not None:
            for i, text in enumerate(spec.texts):
                positions.setdefault(text, i - len(spec.texts))
    solver = _Solver(names, [base, *samples], fixed, positions)
    notes: list[tuple[str, str]] = []

    def spec_of(i: int, piece: int, shape: tuple[int, ...]) -> list[str]:
        dims_out = []
        for axis, size in enumerate(shape):
            values = (size, *(s.calls[i].shapes[piece][axis] for s in samples))
            text = solver.solve(values, axis - len(shape))
            if text is None:
                text = str(size)
                note = (f"注意：步骤 {base.calls[i].name} 的第 {axis} 维随输入变化，但找不到简单表达式"
                               f"（出现过的尺寸 {sorted(set(values))}），先写成数字",
                               f"note: step {base.calls[i].name}, axis {axis} varies with the inputs but fits no "
                               f"simple expression (sizes {sorted(set(values))}); written as a literal")
                if note not in notes:
                    notes.append(note)
            dims_out.append(text)
        return dims_out

    rows = _rows(recorder.calls, spec_of)
    built = plan.models[next(iter(plan.models))].model
    shapes = [tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__ for x in inputs]
    return _make_trace(type(built).__name__, rows, names, shapes, output, lang, fixed, notes)


def record_values(module: nn.Module, *inputs: Any) -> tuple[list[Step], list[Tensor], Any]:
    """Runs `module` itself once on real inputs (no_grad) and records its steps with their values.

    Used by `fusion_edu.compare`; hooks are added to `module` for the run and removed after it.

    Returns:
        The rows (specs are the concrete sizes), a copy of each row's tensor, and the module's output.
    """
    hooked = _Hooked(module)
    try:
        recorder, output = _execute(hooked, inputs, detailed=True, keep=True)
    except Exception as e:
        raise _failure(e, module) from e
    finally:
        hooked.remove()
    rows = _rows(recorder.calls, lambda _i, _piece, shape: [str(s) for s in shape])
    values = [v for call in recorder.calls for v in (call.values or [])]
    return rows, values, output


def _failure(error: BaseException, module: Any) -> RuntimeError:
    step, op = getattr(error, "_autotrace_step", (1, ""))
    name = type(module).__name__ if isinstance(module, nn.Module) else getattr(module, "__name__", "module")
    hint = ""
    if "meta" in str(error).lower():
        hint = (" (autotrace runs the module on the meta device, which has shapes but no values: data-dependent "
                "steps such as .item() or nonzero() cannot run there)")
    return RuntimeError(f"autotrace failed at step {step} ({op or name}): {type(error).__name__}: "
                        f"{_short_reason(error) if len(str(error)) > 300 else str(error)}{hint}")


# --------------------------------------------------------------------------- command line

def add_cli(subparsers: Any) -> None:
    """Adds ``autotrace FILE.py:Class --C 64 --H 32 --W 32 [--B 1] [--lang zh] [--arg name=value ...]``."""
    cmd = subparsers.add_parser("autotrace", help="trace a module class from any Python file (no note() needed)")
    cmd.add_argument("target", help="path/to/file.py:ClassName")
    for name, default, text in (("B", 1, "batch size"), ("C", 64, "channels"), ("H", 32, "height"),
                                ("W", 32, "width")):
        cmd.add_argument(f"--{name}", type=int, default=default, help=f"{text} of the (B, C, H, W) input "
                         f"(default {default})")
    cmd.add_argument("--lang", choices=("zh", "en", "both"), default=None, help="language (default: FUSION_EDU_LANG)")
    cmd.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                     help="a constructor argument, e.g. --arg reduction=8 (repeatable)")


def run_cli(args: Any) -> int:
    """Runs the ``autotrace`` subcommand; prints one clear line to stderr and returns 2 on a problem."""
    try:
        cls = _load_class(args.target)
        factory = _cli_factory(cls, args.arg)
        for name in ("B", "C", "H", "W"):
            require = getattr(args, name)
            if require < 1:
                raise value_error("autotrace", f"--{name} must be >= 1", {name: require}, f"Try --{name} 1.",
                                  zh=f"--{name} 必须 ≥ 1", zh_hint=f"可试 --{name} 1。")
        x = torch.empty(args.B, args.C, args.H, args.W, device="meta")
        result = autotrace(factory, x, lang=args.lang)
    except (TypeError, ValueError, RuntimeError, ImportError, OSError, SyntaxError) as e:
        print(str(e).splitlines()[0] if str(e) else type(e).__name__, file=sys.stderr)
        return 2
    print(result.to_text())
    print("output:", ", ".join(str(s) for s in result.output_shapes))
    return 0


def _load_class(target: str) -> type:
    import importlib.util

    path, _, name = target.rpartition(":")
    if not path or not name:
        raise value_error("autotrace", "the target must be FILE.py:ClassName", {"target": target},
                          "Example: python -m fusion_edu autotrace my_blocks.py:SEBlock --C 64 --H 32 --W 32.",
                          zh="目标须写成 文件.py:类名", zh_hint="例如 my_blocks.py:SEBlock。")
    if not os.path.isfile(path):
        raise value_error("autotrace", "the file must exist", {"file": path}, "Check the path.",
                          zh="文件必须存在", zh_hint="请检查路径。")
    spec = importlib.util.spec_from_file_location(f"_fusion_edu_user_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)  # so that the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise RuntimeError(f"autotrace: importing {path} failed: {type(e).__name__}: {e}") from e
    finally:
        sys.path.remove(folder)
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        found = sorted(k for k, v in vars(module).items() if isinstance(v, type) and issubclass(v, nn.Module)
                       and v.__module__ == module.__name__)
        raise value_error("autotrace", f"{os.path.basename(path)} must define an nn.Module class {name}",
                          {"classes": found}, "Use one of the classes listed.",
                          zh=f"{os.path.basename(path)} 中须有 nn.Module 类 {name}", zh_hint="请从列出的类中选择。")
    return cls


def _cli_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word such as max or bilinear


def _cli_factory(cls: type, pairs: list[str]) -> Callable[..., nn.Module]:
    """A factory taking C: C goes to the constructor's first parameter when it has no default."""
    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise value_error("autotrace", "--arg must be NAME=VALUE", {"arg": pair}, "Example: --arg reduction=8.",
                              zh="--arg 须写成 名字=值", zh_hint="例如 --arg reduction=8。")
        kwargs[key] = _cli_value(value)
    signature = inspect.signature(cls)
    open_kwargs = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = sorted(set(kwargs) - set(signature.parameters))
    if unknown and not open_kwargs:
        raise value_error("autotrace", f"--arg names must be parameters of {cls.__name__}",
                          {"unknown": unknown, "parameters": list(signature.parameters)}, "Check the spelling.",
                          zh=f"--arg 的名字必须是 {cls.__name__} 的参数", zh_hint="请检查拼写。")
    params = [p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    first = params[0] if params else None
    takes_c = first is not None and first.default is inspect.Parameter.empty and first.name not in kwargs

    def build(C: int) -> nn.Module:
        return cls(C, **kwargs) if takes_c else cls(**kwargs)

    if not takes_c:
        def build_fixed() -> nn.Module:  # C cannot reach the constructor: it stays what the input says
            return cls(**kwargs)
        return build_fixed
    return build
