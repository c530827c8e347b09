"""Exercises for OSRA: questions with answers computed from the package, checks with hints."""

from __future__ import annotations

import math

import torch

from ...blocks import (
    OSRAttention,
    reduced_size,
)
from ...trace import trace
from ..feedback import Choice, Exercise, Hint
from .common import kept_shape


def _osra_rows_choice() -> str:
    block = OSRAttention(8, num_heads=2).eval()
    with torch.no_grad():
        attn = trace(block, torch.randn(1, 8, 9, 9), keep=True).tensors["attn"]
    return "a" if torch.allclose(attn.sum(-1), torch.ones(1), atol=1e-5) else "c"


def _osra_attn_mib(side: int, sr_ratio: int, num_heads: int = 8) -> float:
    shape = kept_shape("osra", "attn", B=1, C=64, H=side, W=side, num_heads=num_heads, sr_ratio=sr_ratio)
    return 4 * math.prod(shape) / 2**20


def _osra_attn_mib_formula(side: int, sr_ratio: int, num_heads: int = 8) -> float:
    cells = reduced_size(side, sr_ratio) ** 2
    return 4 * num_heads * side * side * cells / 2**20


def exercises() -> list[Exercise]:
    """The exercises of OSRA, in order."""
    return [
        Exercise("osra", "int",
                 "OSRAttention，输入 15×15，sr_ratio = 3（奇数）。缩减后的 key 网格边长 H' 是多少？",
                 "OSRAttention with a 15x15 input and sr_ratio = 3 (odd). What is the side H' of the reduced key "
                 "grid?",
                 lambda: reduced_size(15, 3),
                 "{answer}：卷积核 r+3 = 6（偶数）、步长 3、padding 3：(15 + 6 − 6)//3 + 1。"
                 "奇数 r 时 H' = H//r + 1，而不是 ceil(H/r)。",
                 "{answer}: kernel r+3 = 6 (even), stride 3, padding 3: (15 + 6 - 6)//3 + 1. For odd r, "
                 "H' = H//r + 1, not ceil(H/r).",
                 hints=[Hint(math.ceil(15 / 3), "ceil(H/r) 只对偶数 r 成立；r 为奇数时核是偶数，"
                             "用卷积输出公式算一遍。",
                             "ceil(H/r) holds only for even r; for odd r the kernel is even: use the conv output"
                             " formula.")],
                 nudge_zh="卷积输出 = (H + 2·padding − kernel)//stride + 1，kernel = r+3，padding = (r+3)//2。",
                 nudge_en="Conv output = (H + 2*padding - kernel)//stride + 1 with kernel r+3, padding (r+3)//2."),
        Exercise("osra", "shape",
                 "OSRAttention(dim=64, num_heads=8, sr_ratio=2)，输入 (1, 64, 32, 32)。"
                 "注意力矩阵（key 'attn'）的形状？",
                 "OSRAttention(dim=64, num_heads=8, sr_ratio=2) with input (1, 64, 32, 32). What is the shape of "
                 "the attention matrix (key 'attn')?",
                 lambda: kept_shape("osra", "attn", B=1, C=64, H=32, W=32, num_heads=8, sr_ratio=2),
                 "{answer}：每个头、每个像素（query，H·W 个）对缩减网格上的每个 key（H'·W' 个）一个权重。",
                 "{answer}: per head, every pixel (query, H*W of them) gets one weight per key on the reduced grid "
                 "(H'*W' of them).",
                 hints=[Hint((1, 8, 1024, 1024), "key 来自缩减后的网格，不是全部像素。",
                             "The keys come from the reduced grid, not from every pixel."),
                        Hint((1, 8, 256, 256), "query 没有被缩减：每个像素都是 query。",
                             "The queries are not reduced: every pixel is a query.")],
                 axes=("B", "nh", "H*W", "H'*W'")),
        Exercise("osra", "float",
                 "B=1、num_heads=8、输入 64×64、sr_ratio=2 时，注意力矩阵（float32）占多少 MiB？",
                 "With B=1, num_heads=8, a 64x64 input and sr_ratio=2, how many MiB does the attention matrix "
                 "take in float32?",
                 lambda: _osra_attn_mib(64, 2),
                 "{answer} MiB = 4 字节 × 8 × 4096 × 1024 / 2^20。sr_ratio = 1 时是 4 倍；这就是“空间缩减”的意义。",
                 "{answer} MiB = 4 bytes x 8 x 4096 x 1024 / 2^20. With sr_ratio = 1 it is 4 times more: that is "
                 "what the spatial reduction buys.",
                 hints=[Hint(_osra_attn_mib_formula(64, 1), "这是 sr_ratio = 1（不缩减）时的大小。",
                             "That is the size with sr_ratio = 1 (no reduction)."),
                        Hint(_osra_attn_mib_formula(64, 2) / 8, "别忘了 8 个头。", "Do not forget the 8 heads.")],
                 tol=0.5, nudge_zh="元素个数 = nh × (H·W) × (H'·W')，每个 4 字节。",
                 nudge_en="Entries = nh x (H*W) x (H'*W'), 4 bytes each."),
        Exercise("osra", "float",
                 "demo 的输入是 16×16。若把 sr_ratio 改成 4，注意力完全均匀时，每个 key 格子分到多少注意力？",
                 "The demo's input is 16x16. With sr_ratio = 4, how much attention does each key cell get when the "
                 "attention is uniform?",
                 lambda: 1 / reduced_size(16, 4) ** 2,
                 "{answer} = 1/(H'·W')。这就是 demo 里“标记格子质量”的训练前基线。",
                 "{answer} = 1/(H'*W'). That is the before-training baseline of the demo's marker-cell mass.",
                 hints=[Hint(1 / 256, "key 在缩减后的网格上，不是 16×16 个像素。",
                             "The keys live on the reduced grid, not on 16x16 pixels.")],
                 tol=0.002, nudge_zh="先算出 H'。", nudge_en="Work out H' first."),
        Exercise("osra", "choice",
                 "OSRA 在最后一维上做的 softmax 起什么作用？",
                 "What does OSRA's softmax over the last axis do?",
                 _osra_rows_choice,
                 "({answer})：每个 query 的一行（对所有 key）加起来等于 1，是一个概率分布。"
                 "note 里说它“相当于 LayerNorm”是错的。",
                 "({answer}): each query's row (over all keys) sums to 1: a probability distribution. The note's "
                 "comment that it 'acts like LayerNorm' is wrong.",
                 choices=[Choice("a", "把每个 query 对所有 key 的权重变成概率分布",
                                 "turns each query's weights over the keys into a probability distribution"),
                          Choice("b", "相当于在通道上做 LayerNorm", "acts like a LayerNorm over channels",
                                 "LayerNorm 减均值除标准差，输出可正可负；softmax 输出为正且和为 1。",
                                 "LayerNorm subtracts a mean and divides by a std, giving signed values; softmax gives "
                                 "positive values that sum to 1."),
                          Choice("c", "把每个 key 的一列归一化", "normalises each key's column",
                                 "最后一维是 key 维：归一化的是每一行（每个 query）。",
                                 "The last axis is the key axis: each row (one query) is normalised.")]),
    ]
