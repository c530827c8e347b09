"""OSRA: Overlapping Spatial Reduction Attention (重叠空间缩减注意力).

Paper: Lou et al., "TransXNet: Learning Both Global and Local Dynamics with a Dual Dynamic Token
Mixer for Visual Recognition", IEEE TNNLS 2025, arXiv 2310.19380.
Source: the note's OSRAttention (TransXNet's ``Attention``, mmcv ConvModule replaced by plain
layers). State-dict names kept: q, kv, sr (``sr.0`` ... ``sr.4``), local_conv.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import require_choice, require_int, require_tensors, shape_error, value_error
from ..trace import note

ACTIVATIONS = ("relu", "gelu")


def reduced_size(size: int, sr_ratio: int) -> int:
    """Side of the key/value grid: a conv with kernel r+3, stride r, padding (r+3)//2."""
    if sr_ratio == 1:
        return size
    kernel, pad = sr_ratio + 3, (sr_ratio + 3) // 2
    return (size + 2 * pad - kernel) // sr_ratio + 1


class OSRAttention(nn.Module):
    """Multi-head attention whose keys and values come from an overlapping, strided depthwise conv.

    Queries keep all N = H*W pixels; keys and values live on the reduced grid H' x W'
    (H' = ceil(H/r) for even r, H//r + 1 for odd r), so the attention matrix is N x M with
    M = H'*W' instead of N x N.

    Shape:
        x: (B, C, H, W), C = dim, C % num_heads == 0
        relative_pos_enc: optional, broadcastable to (B, nh, H*W, H'*W') after resizing
        out: (B, C, H, W)

    Args:
        dim: Channels C.
        num_heads: Heads nh; each head gets hd = C // nh channels.
        qk_scale: Score scale; None means hd ** -0.5.
        attn_drop: Dropout on the attention weights.
        sr_ratio: Spatial-reduction stride r (1 = no reduction).
        act: Activation in the reduction branch: ``"relu"`` (the note, default) or ``"gelu"``
            (TransXNet's official code). No parameters, so the state_dict is the same.

    Differences from source: validation instead of ``assert``; ``act`` switch added.

    Example:
        >>> import torch
        >>> OSRAttention(dim=64)(torch.randn(1, 64, 7, 7)).shape
        torch.Size([1, 64, 7, 7])
    """

    def __init__(self, dim: int, num_heads: int = 8, qk_scale: float | None = None, attn_drop: float = 0,
                 sr_ratio: int = 2, *, act: str = "relu"):
        super().__init__()
        require_int("OSRAttention", "dim", dim)
        require_int("OSRAttention", "num_heads", num_heads)
        require_int("OSRAttention", "sr_ratio", sr_ratio,
                    hint="Use sr_ratio=1 for no reduction, 2, 4 or 8 to shrink the key grid.")
        if dim % num_heads:
            good = [h for h in range(1, dim + 1) if dim % h == 0 and h <= 16]
            raise value_error("OSRAttention", "dim must be divisible by num_heads",
                              {"dim": dim, "num_heads": num_heads, "dim % num_heads": dim % num_heads},
                              f"Try num_heads in {good}.",
                              zh="dim 必须能被 num_heads 整除（每个头分到相同的通道数）",
                              zh_hint=f"可试 num_heads 取 {good} 之一。")
        if not 0 <= attn_drop < 1:
            raise value_error("OSRAttention", "attn_drop must be in [0, 1)", {"attn_drop": attn_drop},
                              "Use 0 for no dropout.",
                              zh="attn_drop 必须在 [0, 1) 之间",
                              zh_hint="不需要 dropout 时用 0。")
        self.act = require_choice("OSRAttention", "act", act, ACTIVATIONS)
        self.dim = dim
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = qk_scale or head_dim**-0.5
        self.sr_ratio = sr_ratio
        self.q = nn.Conv2d(dim, dim, kernel_size=1)
        self.kv = nn.Conv2d(dim, dim * 2, kernel_size=1)
        self.attn_drop = nn.Dropout(attn_drop)
        if sr_ratio > 1:
            self.sr = nn.Sequential(
                nn.Conv2d(dim, dim, kernel_size=sr_ratio + 3, stride=sr_ratio, padding=(sr_ratio + 3) // 2,
                          groups=dim, bias=False),
                nn.BatchNorm2d(dim),
                nn.ReLU() if act == "relu" else nn.GELU(),
                nn.Conv2d(dim, dim, kernel_size=1, groups=dim, bias=False),
                nn.BatchNorm2d(dim),
            )
        else:
            self.sr = nn.Identity()
        self.local_conv = nn.Conv2d(dim, dim, kernel_size=3, padding=1, groups=dim)

    def forward(self, x: Tensor, relative_pos_enc: Tensor | None = None) -> Tensor:
        self._check(x, relative_pos_enc)
        B, C, H, W = x.shape
        nh = self.num_heads
        note(x, "B C H W", zh="输入：N = H×W 个像素，每个像素是一个 token", en="input: N = H*W pixels, one token each")
        q = self.q(x).reshape(B, nh, C // nh, -1).transpose(-1, -2)
        note(q, "B nh H*W hd", zh="1×1 卷积得到 q，按通道拆成 nh 个头，每头 hd = C/nh 维；保留全部像素",
             en="q from a 1x1 conv, split by channels into nh heads of hd = C/nh; every pixel stays a query")
        kv = self.sr(x)
        note(kv, "B C H' W'", zh="空间缩减：核 r+3、步长 r 的重叠深度卷积（+BN+激活+1×1+BN）把网格缩到 H'×W'",
             en="spatial reduction: an overlapping depthwise conv (kernel r+3, stride r, + BN, act, 1x1, BN)"
                " shrinks the grid to H' x W'")
        kv = self.local_conv(kv) + kv
        note(kv, "B C H' W'", zh="3×3 深度卷积做局部增强，并加残差",
             en="3x3 depthwise conv refines locally, plus a residual")
        k, v = torch.chunk(self.kv(kv), chunks=2, dim=1)
        note(k, "B C H' W'", zh="1×1 卷积把通道翻倍到 2C，再一分为二得到 k 和 v",
             en="a 1x1 conv doubles the channels to 2C, then chunk into k and v")
        k = k.reshape(B, nh, C // nh, -1)
        note(k, "B nh hd H'*W'", zh="k 拆成多头：M = H'×W' 个 key", en="k split into heads: M = H'*W' keys")
        v = v.reshape(B, nh, C // nh, -1).transpose(-1, -2)
        note(v, "B nh H'*W' hd", zh="v 拆成多头并转置", en="v split into heads and transposed")
        attn = (q @ k) * self.scale
        note(attn, "B nh H*W H'*W'", zh="注意力分数 q·k × hd^-0.5：N 个 query 对 M 个 key，而不是 N×N",
             en="scores q.k * hd**-0.5: N queries against M keys instead of N x N")
        if relative_pos_enc is not None:
            if attn.shape[2:] != relative_pos_enc.shape[2:]:
                relative_pos_enc = F.interpolate(relative_pos_enc, size=attn.shape[2:], mode="bicubic",
                                                 align_corners=False)
            attn = attn + relative_pos_enc
        attn = torch.softmax(attn, dim=-1)
        attn = self.attn_drop(attn)
        note(attn, "B nh H*W H'*W'", key="attn",
             zh="在最后一维做 softmax：每个 query 的一行变成概率分布（不是 LayerNorm）",
             en="softmax over the keys: each query's row becomes a probability distribution (not a LayerNorm)")
        x = (attn @ v).transpose(-1, -2)
        note(x, "B nh hd H*W", zh="用注意力对 v 加权求和，再转置", en="attention-weighted sum of v, transposed back")
        out = x.reshape(B, C, H, W)
        note(out, "B C H W", zh="合并各头，恢复成输入的形状", en="merge the heads back into the input's shape")
        return out

    def _check(self, x: Tensor, relative_pos_enc: Tensor | None) -> None:
        require_tensors("OSRAttention", ("x",), (x,), ndim=4)
        B, C, H, W = x.shape
        if C != self.dim:
            raise shape_error("OSRAttention", f"x must have dim={self.dim} channels", {"x.shape": (B, C, H, W)},
                              f"Build OSRAttention(dim={C}, ...) or project x with a 1x1 conv.",
                              zh=f"x 的通道数必须是 dim={self.dim}",
                              zh_hint=f"可改建 OSRAttention(dim={C}, ...)。")
        if self.training and self.sr_ratio > 1 and B * reduced_size(H, self.sr_ratio) * reduced_size(
                W, self.sr_ratio) == 1:
            raise shape_error("OSRAttention", "training mode needs more than one value per channel for the "
                              "BatchNorm in sr (here B*H'*W' = 1)",
                              {"x.shape": (B, C, H, W), "sr_ratio": self.sr_ratio},
                              "Call .eval(), use B >= 2, or a map larger than sr_ratio.",
                              zh="训练模式下 sr 里的 BatchNorm 每个通道需要多于一个数（这里 B×H'×W' = 1）",
                              zh_hint="可先 .eval()，或用 B ≥ 2、比 sr_ratio 更大的特征图。")
        if relative_pos_enc is not None:
            require_tensors("OSRAttention", ("relative_pos_enc",), (relative_pos_enc,), ndim=4)
            if relative_pos_enc.shape[1] not in (1, self.num_heads):
                raise shape_error("OSRAttention", f"relative_pos_enc must have num_heads={self.num_heads} "
                                  "(or 1) maps on dim 1", {"relative_pos_enc.shape": tuple(relative_pos_enc.shape)},
                                  f"Make it (1, {self.num_heads}, H*W, H'*W').",
                                  zh=f"relative_pos_enc 第 1 维必须是 num_heads={self.num_heads}（或 1）",
                                  zh_hint=f"请整理成 (1, {self.num_heads}, H*W, H'*W')。")


OSRA = OSRAttention  # short name used in the paper
