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

from ..errors import checks_on, require_choice, require_int, require_tensors, shape_error, value_error
from ..trace import note, section

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
        if checks_on():  # the note has none of these checks; raw_errors() turns them off
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
        self.act = require_choice("OSRAttention", "act", act, ACTIVATIONS) if checks_on() else act
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
        if checks_on():
            self._check(x, relative_pos_enc)
        B, C, H, W = x.shape
        nh = self.num_heads
        note(x, "B C H W", "输入：H×W 个像素，每个像素是一个词", "input: H*W pixels, one word (token) each")
        section("query：每个像素都问一句", "query: every pixel asks")
        q = self.q(x)
        note(q, "B C H W", "q：1×1 卷积不改变尺寸（词数不变）", "q: a 1x1 conv keeps the size (same words)")
        q = q.reshape(B, nh, C // nh, -1)
        note(q, "B nh hd H*W", "按通道拆成 nh 个头：nh 个老师各教一章", "split channels into nh heads", hd=C // nh)
        q = q.transpose(-1, -2)
        note(q, "B nh H*W hd", "转置：nh 句话，每句 HW 个词，每词 hd 维", "transpose: nh sentences of HW words")
        section("key/value：空间缩减", "key/value: spatial reduction")
        kv = self.sr(x)
        note(kv, "B C H' W'", "sr：重叠卷积缩减空间，H×W → H'×W'", "sr: overlapping conv shrinks H x W to H' x W'")
        kv = self.local_conv(kv) + kv
        note(kv, "B C H' W'", "local_conv：3×3 深度卷积 + 残差", "local_conv: 3x3 depthwise + residual")
        kv = self.kv(kv)
        note(kv, "B 2*C H' W'", "kv：1×1 卷积把通道翻倍到 2C", "kv: a 1x1 conv doubles the channels")
        k, v = torch.chunk(kv, chunks=2, dim=1)
        note(k, "B C H' W'", "chunk：前一半通道给 k", "chunk: the first half is k")
        note(v, "B C H' W'", "后一半通道给 v", "the second half is v")
        k = k.reshape(B, nh, C // nh, -1)
        note(k, "B nh hd H'*W'", "k 分给 nh 个头：H'W' 个词", "k into nh heads: H'W' words")
        v = v.reshape(B, nh, C // nh, -1)
        note(v, "B nh hd H'*W'", "v 同样分给 nh 个头", "v into nh heads too")
        v = v.transpose(-1, -2)
        note(v, "B nh H'*W' hd", "v 转置：H'W' 个词，每词 hd 维", "v transposed: H'W' words of hd")
        section("注意力", "attention")
        attn = (q @ k) * self.scale
        note(attn, "B nh H*W H'*W'", "q @ k × scale：HW 个词对 H'W' 个词的相关性", "q @ k * scale: HW words vs H'W'")
        if relative_pos_enc is not None:
            if attn.shape[2:] != relative_pos_enc.shape[2:]:
                relative_pos_enc = F.interpolate(relative_pos_enc, size=attn.shape[2:], mode="bicubic",
                                                 align_corners=False)
            attn = attn + relative_pos_enc
        attn = torch.softmax(attn, dim=-1)
        attn = self.attn_drop(attn)
        note(attn, "B nh H*W H'*W'", "softmax：每行和为 1（不是 LayerNorm）", "softmax: rows sum to 1", key="attn")
        x = attn @ v
        note(x, "B nh H*W hd", "attn @ v：画了重点的 q", "attn @ v: the q, now with highlights")
        x = x.transpose(-1, -2)
        note(x, "B nh hd H*W", "转置回 (B, nh, hd, HW)", "transpose back")
        out = x.reshape(B, C, H, W)
        note(out, "B C H W", "合并各头，恢复输入形状", "merge the heads: the input's shape")
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
