"""Gated fusion (门控融合机制).

Paper: Zheng et al., "GMAN: A Graph Multi-Attention Network for Traffic Prediction", AAAI 2020,
arXiv 1911.08415, Eq. 11-12. Source: the note's gatedFusion. State-dict names kept: fc1, fc2.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import checks_on, require_choice, require_int, require_tensors, shape_error
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
        if checks_on():  # the note has none of these checks; raw_errors() turns them off
            require_int("GatedFusion", "dim", dim)
            require_choice("GatedFusion", "layout", layout, LAYOUTS)
        self.layout = layout
        self.dim = dim
        self.fc1 = nn.Linear(dim, dim, bias=True)
        self.fc2 = nn.Linear(dim, dim, bias=True)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        if checks_on():
            self._check(x1, x2)
        if self.layout == "nchw":
            note(x1, "B C H W", "NCHW 输入：先把通道移到最后", "NCHW input: move channels last first")
            x1, x2 = x1.permute(0, 2, 3, 1), x2.permute(0, 2, 3, 1)
        spec = "B H W C" if x1.ndim == 4 else "... C"
        note(x1, spec, "x1：第一路输入，通道在最后一维", "x1: the first input, channels last")
        note(x2, spec, "x2：第二路输入，形状与 x1 相同", "x2: the second input, same shape")
        x11 = self.fc1(x1)
        note(x11, spec, "fc1(x1)：线性层作用在最后一维 C", "fc1(x1): a linear map on the last axis C")
        x22 = self.fc2(x2)
        note(x22, spec, "fc2(x2)：另一个线性层", "fc2(x2): a second linear map")
        z = torch.sigmoid(x11 + x22)
        note(z, spec, "门控单元：z = σ(fc1 + fc2) ∈ (0, 1)", "gate: z = sigmoid(fc1 + fc2) in (0, 1)", key="z")
        out = z * x1 + (1 - z) * x2
        note(out, spec, "加权和 z·x1 + (1−z)·x2", "weighted sum z*x1 + (1-z)*x2")
        if self.layout == "nchw":
            out = out.permute(0, 3, 1, 2)
            note(out, "B C H W", "换回 NCHW", "back to NCHW")
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
