"""Exercises for SAFM: questions with answers computed from the package, checks with hints."""

from __future__ import annotations

import torch

from ...blocks import (
    SAFM,
    meta_trace,
)
from ...errors import ShapeError
from ..feedback import Choice, Exercise, Hint


def _safm_level_sides(side: int, n_levels: int = 4) -> tuple[int, ...]:
    rows = meta_trace("safm", B=1, C=4 * n_levels, H=side, W=side, n_levels=n_levels).rows
    pooled = [r.shape[-1] for r in rows if r.spec == "B C//L H//2**i W//2**i"][::2]
    return (side, *pooled)


def _safm_min_side(n_levels: int) -> int:
    for side in range(1, 1025):
        try:
            meta_trace("safm", B=1, C=4 * n_levels, H=side, W=side, n_levels=n_levels)
            return side
        except ShapeError:
            continue
    raise RuntimeError("no size found")


def _gelu_min() -> float:
    return SAFM(4, 1).act(torch.linspace(-4, 0, 40001)).min().item()


def _safm_large_choice() -> str:
    return "b" if SAFM(4, 1).act(torch.tensor(3.0)).item() > 1 else "a"


def exercises() -> list[Exercise]:
    """The exercises of SAFM, in order."""
    return [
        Exercise("safm", "sizes",
                 "SAFM(dim=36, n_levels=4) 的输入是 64×64。四个尺度各自在多大的边长上做 3×3 深度卷积？"
                 "（按层 0..3 列出）",
                 "SAFM(dim=36, n_levels=4) gets a 64x64 input. At what side length does each of the four levels run "
                 "its 3x3 depthwise conv? (list levels 0..3)",
                 lambda: _safm_level_sides(64),
                 "{answer}：第 0 层不池化，第 i 层池化到 H // 2**i，卷积后再最近邻上采样回 64×64。",
                 "{answer}: level 0 is not pooled, level i is pooled to H // 2**i, and after the conv it is "
                 "upsampled (nearest) back to 64x64.",
                 hints=[Hint((32, 16, 8, 4), "第 0 层保持原分辨率。", "Level 0 keeps the full resolution."),
                        Hint((64, 64, 64, 64), "这是上采样之后的大小；卷积发生在上采样之前。",
                             "That is the size after upsampling; the conv runs before it.")],
                 axes=("level 0", "level 1", "level 2", "level 3")),
        Exercise("safm", "int",
                 "在 explorer（explore('safm')）里设 H = W = 30、n_levels = 4。最粗的一层（第 3 层）边长是多少？",
                 "In the explorer (explore('safm')) set H = W = 30 and n_levels = 4. What is the side of the "
                 "coarsest level (level 3)?",
                 lambda: _safm_level_sides(30)[-1],
                 "{answer} = 30 // 8（向下取整）。30 不能被 8 整除：自适应池化的窗口大小不均匀，"
                 "最近邻上采样再把块拉回 30。",
                 "{answer} = 30 // 8 (rounded down). 30 is not divisible by 8: the adaptive pool uses uneven windows "
                 "and nearest upsampling stretches the blocks back to 30.",
                 hints=[Hint(4, "池化大小是向下取整的 H // 2**i。", "The pooled size is H // 2**i, rounded down."),
                        Hint(15, "那是第 1 层；问的是最粗的一层。", "That is level 1; the question asks for the "
                        "coarsest level.")],
                 nudge_zh="第 i 层的边长是 H // 2**i。", nudge_en="Level i has side H // 2**i."),
        Exercise("safm", "int",
                 "n_levels = 5 时，输入边长最小是多少，SAFM 才能运行？（在 explorer 里试试更小的值，看看报错）",
                 "With n_levels = 5, what is the smallest input side that SAFM accepts? (Try smaller values in the "
                 "explorer and read the error.)",
                 lambda: _safm_min_side(5),
                 "{answer} = 2**(n_levels-1)：最粗的一层必须至少保留 1 个像素。",
                 "{answer} = 2**(n_levels-1): the coarsest level must keep at least one pixel.",
                 hints=[Hint(32, "最粗的一层是第 L-1 层，不是第 L 层。", "The coarsest level is L-1, not L.")],
                 nudge_zh="最粗一层池化到 H // 2**(L-1)，它至少要是 1。",
                 nudge_en="The coarsest level pools to H // 2**(L-1), which must be at least 1."),
        Exercise("safm", "float",
                 "调制图 M = GELU(aggr(...))。M 可能取到的最小值是多少？（保留 2 位小数）",
                 "The modulation map is M = GELU(aggr(...)). What is the smallest value M can take? (2 decimals)",
                 _gelu_min,
                 "{answer}（在 x ≈ −0.75 处）：GELU 不是 ReLU，它会略低于 0，所以 M 可以让特征轻微反号；"
                 "它也没有上界，所以 M 不是 [0,1] 的注意力。",
                 "{answer} (at x ~ -0.75): GELU is not ReLU; it dips below 0, so M can slightly flip a feature's "
                 "sign, and it has no upper bound, so M is not a [0, 1] attention.",
                 hints=[Hint(0.0, "GELU 不是 ReLU：负半轴上它会略低于 0。",
                             "GELU is not ReLU: it dips below 0 for negative inputs."),
                        Hint(-1.0, "GELU(x) = x·Φ(x)，x 很负时 Φ(x) 趋于 0，所以它不会一直下降。",
                             "GELU(x) = x*Phi(x); for very negative x, Phi(x) goes to 0, so it does not keep"
                             " falling.")],
                 tol=0.01, nudge_zh="画出 x·Φ(x) 在负半轴的样子。", nudge_en="Sketch x*Phi(x) for negative x."),
        Exercise("safm", "choice",
                 "某个像素上 M = 2。这意味着什么？",
                 "At one pixel M = 2. What does that mean?",
                 _safm_large_choice,
                 "({answer})：out = M·x，M 是调制而不是概率，可以放大特征。",
                 "({answer}): out = M * x; M is a modulation, not a probability, and can amplify a feature.",
                 choices=[Choice("a", "不可能：注意力被归一化到 [0,1]",
                                 "impossible: the attention is normalised to [0, 1]",
                                 "GELU 没有上界，note 里说它“归一化”是错的。",
                                 "GELU has no upper bound; the note's word 'normalise' is wrong."),
                          Choice("b", "该像素的特征被放大为 2 倍", "the feature at that pixel is amplified twice"),
                          Choice("c", "该像素被忽略", "the pixel is ignored",
                                 "被忽略对应 M ≈ 0。", "Ignoring it would mean M ~ 0.")]),
    ]
