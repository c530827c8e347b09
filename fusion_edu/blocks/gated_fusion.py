"""Gated fusion (门控融合机制).

Paper: Zheng et al., "GMAN: A Graph Multi-Attention Network for Traffic Prediction", AAAI 2020,
arXiv 1911.08415, Eq. 11-12. Source: the note's gatedFusion. State-dict names kept: fc1, fc2.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import require_choice, require_int, require_tensors, shape_error
from ..trace import note

LAYOUTS = ("channels_last", "nchw")


class GatedFusion(nn.Module):
    """Mix two same-shape inputs with a learned per-element gate: ``z * x1 + (1 - z) * x2``.

    ``z = sigmoid(fc1(x1) + fc2(x2))`` is computed per position and channel; z near 1 trusts x1,
    near 0 trusts x2. ``nn.Linear`` acts on the last axis, so the note's block expects
    channels-last input (B, H, W, C) or (B, N, T, C). An NCHW tensor whose W happens to equal C
    would run and silently mix along W: pass ``layout="nchw"`` for (B, C, H, W) tensors instead.

    Shape:
        x1, x2: (..., C) with C = dim (``layout="nchw"``: (B, C, H, W)), both the same shape
        out: same as x1

    Args:
        dim: Channels C.
        layout: ``"channels_last"`` (the note, default) or ``"nchw"``.

    Differences from source: no debug prints; ``layout`` switch added. GMAN's own gate has one
    bias (the note has two, which is equivalent) and is followed by two FC layers and a residual
    that the note leaves out.

    Example:
        >>> import torch
        >>> x1, x2 = torch.randn(1, 8, 8, 64), torch.randn(1, 8, 8, 64)
        >>> GatedFusion(dim=64)(x1, x2).shape
        torch.Size([1, 8, 8, 64])
    """

    def __init__(self, dim: int, *, layout: str = "channels_last"):
        super().__init__()
        require_int("GatedFusion", "dim", dim)
        self.layout = require_choice("GatedFusion", "layout", layout, LAYOUTS)
        self.dim = dim
        self.fc1 = nn.Linear(dim, dim, bias=True)
        self.fc2 = nn.Linear(dim, dim, bias=True)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        self._check(x1, x2)
        if self.layout == "nchw":
            note(x1, "B C H W", zh="NCHW 输入（layout='nchw'）", en="NCHW input (layout='nchw')")
            x1, x2 = x1.permute(0, 2, 3, 1), x2.permute(0, 2, 3, 1)
        spec = "B H W C" if x1.ndim == 4 else "... C"
        note(x1, spec, zh="两个形状相同的输入，通道在最后一维（channels-last）",
             en="two inputs of the same shape, channels on the last axis (channels-last)")
        x11 = self.fc1(x1)
        note(x11, spec, zh="fc1：对 x1 的每个位置做线性变换（相当于 1×1 卷积）",
             en="fc1: a linear map of x1 at every position (a 1x1 conv)")
        x22 = self.fc2(x2)
        note(x22, spec, zh="fc2：对 x2 做同样的线性变换", en="fc2: the same kind of map for x2")
        z = torch.sigmoid(x11 + x22)
        note(z, spec, key="z", zh="门控 z = sigmoid(fc1(x1) + fc2(x2))，逐位置逐通道，取值 (0,1)",
             en="gate z = sigmoid(fc1(x1) + fc2(x2)), per position and channel, in (0, 1)")
        out = z * x1 + (1 - z) * x2
        note(out, spec, zh="加权和 z·x1 + (1−z)·x2：z→1 信 x1，z→0 信 x2",
             en="weighted sum z*x1 + (1-z)*x2: z near 1 trusts x1, near 0 trusts x2")
        if self.layout == "nchw":
            out = out.permute(0, 3, 1, 2)
            note(out, "B C H W", zh="换回 NCHW", en="back to NCHW")
        return out

    def _check(self, x1: Tensor, x2: Tensor) -> None:
        nchw = self.layout == "nchw"
        require_tensors("GatedFusion", ("x1", "x2"), (x1, x2), ndim=4 if nchw else None)
        if x1.shape != x2.shape:
            raise shape_error("GatedFusion", "x1 and x2 must have the same shape",
                              {"x1.shape": tuple(x1.shape), "x2.shape": tuple(x2.shape)},
                              "Resize or project one of them first.",
                              zh="x1 和 x2 的形状必须相同",
                              zh_hint="请先缩放或投影其中一个。")
        axis = 1 if nchw else -1
        if x1.ndim == 0 or x1.shape[axis] != self.dim:
            where = "dim 1 (layout='nchw')" if nchw else "the last axis (channels-last)"
            where_zh = "第 1 维（layout='nchw'）" if nchw else "最后一维（channels-last）"
            hint = ("For NCHW tensors build GatedFusion(dim, layout='nchw') or permute with x.permute(0, 2, 3, 1)."
                    if not nchw and x1.ndim == 4 and x1.shape[1] == self.dim
                    else f"Build GatedFusion(dim={x1.shape[axis] if x1.ndim else '?'}) or project the inputs.")
            raise shape_error("GatedFusion", f"inputs must have dim={self.dim} channels on {where}",
                              {"x1.shape": tuple(x1.shape)}, hint,
                              zh=f"输入在{where_zh}上必须有 dim={self.dim} 个通道",
                              zh_hint="NCHW 张量请用 layout='nchw' 或先 permute(0, 2, 3, 1)。")


gatedFusion = GatedFusion  # source name
