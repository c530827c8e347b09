"""SAFM: Spatially-Adaptive Feature Modulation (空间自适应特征调制).

Paper: Sun et al., "Spatially-Adaptive Feature Modulation for Efficient Image Super-Resolution",
ICCV 2023, arXiv 2302.13800.
Source: the note's SAFM (same as sunny2109/SAFMN ``safmn_arch.py``). State-dict names kept: mfr, aggr.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import checks_on, require_choice, require_int, require_tensors, shape_error, value_error
from ..trace import note, section

POOLS = ("max", "avg")


class SAFM(nn.Module):
    """Split channels into L groups, look at group i at 1/2**i resolution, then modulate the input.

    Level 0 keeps full resolution; level i >= 1 is pooled to (H // 2**i, W // 2**i), filtered by a
    3x3 depthwise conv and upsampled (nearest) back. A 1x1 conv mixes the levels and GELU gives the
    modulation map M; the output is M * x. M is not a [0, 1] attention: GELU is unbounded above and
    dips to about -0.17, so M can amplify a feature or flip its sign slightly.

    Shape:
        x: (B, C, H, W) with C = dim, C % L == 0 and H, W >= 2**(L-1), where L = n_levels
        out: (B, C, H, W)

    Args:
        dim: Channels C. Must be divisible by n_levels.
        n_levels: Number of scales L.
        pool: ``"max"`` (the note, default) or ``"avg"`` pooling for the coarse levels.

    Differences from source: no debug prints; ``pool`` switch added (default unchanged).

    Example:
        >>> import torch
        >>> SAFM(dim=8, n_levels=4)(torch.randn(1, 8, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(self, dim: int, n_levels: int = 4, *, pool: str = "max"):
        super().__init__()
        if checks_on():  # the note has none of these checks; raw_errors() turns them off
            require_int("SAFM", "dim", dim)
            require_int("SAFM", "n_levels", n_levels)
            if dim % n_levels:
                suggestion = dim + n_levels - dim % n_levels
                raise value_error("SAFM", "dim must be divisible by n_levels",
                                  {"dim": dim, "n_levels": n_levels, "dim % n_levels": dim % n_levels},
                                  f"Try dim={suggestion}.",
                                  zh="dim 必须能被 n_levels 整除（每个尺度分到相同的通道数）",
                                  zh_hint=f"可试 dim={suggestion}。")
        self.pool = require_choice("SAFM", "pool", pool, POOLS) if checks_on() else pool
        self.n_levels = n_levels
        self.dim = dim
        chunk_dim = dim // n_levels
        self.mfr = nn.ModuleList(
            [nn.Conv2d(chunk_dim, chunk_dim, 3, 1, 1, groups=chunk_dim) for _ in range(n_levels)]
        )
        self.aggr = nn.Conv2d(dim, dim, 1, 1, 0)
        self.act = nn.GELU()
        self._pool_fn = F.adaptive_max_pool2d if pool == "max" else F.adaptive_avg_pool2d

    def forward(self, x: Tensor) -> Tensor:
        if checks_on():
            self._check(x)
        h, w = x.shape[-2:]
        L = self.n_levels
        note(x, "B C H W", "输入特征图", "input feature map")
        xc = x.chunk(L, dim=1)
        for i, chunk in enumerate(xc):
            note(chunk, "B C//L H W", "chunk：通道平分成 L 份，xc[{i}]", "chunk into L groups: xc[{i}]", L=L, i=i)
        section("空间加权（多尺度）", "spatial weighting at L scales")
        levels = [self.mfr[0](xc[0])]
        note(levels[0], "B C//L H W", "尺度 0：原尺寸，3×3 深度卷积", "scale 0: 3x3 depthwise", L=L)
        for i in range(1, L):
            s = self._pool_fn(xc[i], (h // 2**i, w // 2**i))
            note(s, "B C//L H//2**i W//2**i", "尺度 {i}：池化到 1/2^{i}", "scale {i}: pool to 1/2**{i}", L=L, i=i)
            s = self.mfr[i](s)
            note(s, "B C//L H//2**i W//2**i", "尺度 {i}：3×3 深度卷积", "scale {i}: 3x3 depthwise", L=L, i=i)
            s = F.interpolate(s, size=(h, w), mode="nearest")
            note(s, "B C//L H W", "尺度 {i}：最近邻上采样回 H×W", "scale {i}: nearest, back to H x W", L=L, i=i)
            levels.append(s)
        section("特征聚合与调制", "feature aggregation and modulation")
        levels = torch.cat(levels, dim=1)
        note(levels, "B C H W", "L 个尺度在通道上拼接，恢复 C", "concatenate the L scales: C again", key="levels")
        out = self.aggr(levels)
        note(out, "B C H W", "aggr：1×1 卷积聚合各尺度的通道", "aggr: a 1x1 conv mixes the scales")
        modulation = self.act(out)
        note(modulation, "B C H W", "GELU：调制图 M（非 0–1 注意力）", "GELU: modulation M, not 0-1", key="modulation")
        out = modulation * x
        note(out, "B C H W", "M ⊙ x：与原输入相乘，保留空间细节", "M * x: keeps the input's detail")
        return out

    def _check(self, x: Tensor) -> None:
        require_tensors("SAFM", ("x",), (x,), ndim=4)
        B, C, H, W = x.shape
        if C != self.dim:
            raise shape_error("SAFM", f"x must have dim={self.dim} channels", {"x.shape": (B, C, H, W)},
                              f"Build SAFM(dim={C}) or project x with a 1x1 conv.",
                              zh=f"x 的通道数必须是 dim={self.dim}",
                              zh_hint=f"可改建 SAFM(dim={C})。")
        smallest = 2 ** (self.n_levels - 1)
        if min(H, W) < smallest:
            raise shape_error("SAFM", f"H and W must be >= 2**(n_levels-1) = {smallest} so the coarsest level "
                              "keeps at least one pixel", {"x.shape": (B, C, H, W), "n_levels": self.n_levels},
                              f"Use an input of at least {smallest}x{smallest}, or fewer n_levels.",
                              zh=f"H 和 W 必须 ≥ 2^(n_levels-1) = {smallest}，最粗的尺度才至少剩一个像素",
                              zh_hint=f"请用至少 {smallest}×{smallest} 的输入，或减少 n_levels。")
