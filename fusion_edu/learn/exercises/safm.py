"""Exercises for SAFM: two sizes to work out, a prediction (max against avg pooling) and its measurement in
code, and a variant of the block to write (bilinear upsampling), each checked by running it.

The code exercises' judges build their own blocks and inputs (the photo features of
`fusion_edu.data`), run the student's function or class on them and compare with our reference
computation; the feedback says what is right and where to look, never the code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...blocks import SAFM, meta_trace
from ...errors import ShapeError
from ...trace import trace
from ..feedback import Choice, CodeExercise, Exercise, Feedback, Hint
from .common import one_thread

__all__ = ["exercises", "coarsest_reference", "upsampled_reference"]

_CONFIGS = ((16, 4), (12, 3))  # (dim, n_levels): the photo block of the lessons, and one that is not 4 levels


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


# --------------------------------------------------------------------------- references for the judges

def coarsest_reference(block: SAFM, x: Tensor) -> tuple[Tensor, Tensor]:
    """The coarsest level of `block` on `x`: after upsampling (B, c, H, W) and before it (B, c, H', W').

    Read from the block itself (the trace's ``levels`` and a hook on the last depthwise conv), so it
    follows the block's pooling switch.
    """
    kept: list[Tensor] = []
    handle = block.mfr[-1].register_forward_hook(lambda _m, _i, out: kept.append(out))
    try:
        with torch.no_grad():
            levels = trace(block, x, keep=True).tensors["levels"]
    finally:
        handle.remove()
    c = block.dim // block.n_levels
    return levels[:, -c:], kept[-1]


def upsampled_reference(block: SAFM, x: Tensor, mode: str = "bilinear", align_corners: bool | None = False) -> Tensor:
    """SAFM's forward with the coarse levels upsampled by `mode` instead of nearest (our own reference)."""
    h, w = x.shape[-2:]
    pool = F.adaptive_max_pool2d if block.pool == "max" else F.adaptive_avg_pool2d
    chunks = x.chunk(block.n_levels, dim=1)
    levels = [block.mfr[0](chunks[0])]
    for i in range(1, block.n_levels):
        s = block.mfr[i](pool(chunks[i], (h // 2**i, w // 2**i)))
        extra = {} if mode == "nearest" else {"align_corners": align_corners}
        levels.append(F.interpolate(s, size=(h, w), mode=mode, **extra))
    return block.act(block.aggr(torch.cat(levels, dim=1))) * x


@functools.cache
def _photo_case(dim: int, n_levels: int) -> tuple[dict[str, Tensor], Tensor]:
    """The lessons' photo block weights for (dim, n_levels) and its photo input (1, dim, 64, 64)."""
    from ...data import block_for_photo

    block, inputs = block_for_photo("safm", C=dim, n_levels=n_levels)
    return block.state_dict(), inputs[0]


def _pooled_pair(dim: int, n_levels: int) -> tuple[SAFM, SAFM, Tensor]:
    """A max-pool and an avg-pool SAFM with the same (photo block's) weights, and the photo input."""
    weights, x = _photo_case(dim, n_levels)
    blocks = []
    for pool in ("max", "avg"):
        block = SAFM(dim, n_levels, pool=pool).eval()
        block.load_state_dict(weights)
        blocks.append(block)
    return blocks[0], blocks[1], x


def _spread_choice() -> str:
    """Which pooling gives the coarsest level the larger spread on the photo: a (max), b (avg) or c (equal)."""
    block_max, block_avg, x = _pooled_pair(16, 4)
    s_max = coarsest_reference(block_max, x)[0].std().item()
    s_avg = coarsest_reference(block_avg, x)[0].std().item()
    return "c" if abs(s_max - s_avg) < 1e-6 else "a" if s_max > s_avg else "b"


def _no(zh: str, en: str) -> Feedback:
    return Feedback(False, zh, en)


# --------------------------------------------------------------------------- judge: the coarsest level

def _judge_coarsest(fn: Any) -> Feedback:
    if not callable(fn) or isinstance(fn, type):
        return _no("answer 应该是一个函数：coarsest_level(block, x)，返回一个张量。",
                   "answer should be a function coarsest_level(block, x) that returns a tensor.")
    measured = {}
    for dim, n_levels in _CONFIGS:
        block_max, block_avg, x = _pooled_pair(dim, n_levels)
        for name, block in (("max", block_max), ("avg", block_avg)):
            with torch.no_grad():
                got = fn(block, x.clone())
            if not isinstance(got, Tensor):
                return _no(f"你的函数返回了 {type(got).__name__}，应返回一个张量（特征图）。",
                           f"Your function returned a {type(got).__name__}; return a tensor (a feature map).")
            up, small = coarsest_reference(block, x)
            if _same(got, up) or _same(got, small):
                if (dim, n_levels) == _CONFIGS[0]:
                    measured[name] = got.std().item()
                continue
            return _coarsest_miss(got, block, x, name, (dim, n_levels), (up, small))
    return Feedback(True,
                    f"对！同一组权重、同一张照片，最粗一层的标准差：max 池化 {measured['max']:.3f}，"
                    f"avg 池化 {measured['avg']:.3f}。和你在上一题的预测一样吗？想想为什么。",
                    f"Right! Same weights, same photo; the spread (std) of the coarsest level: max pooling "
                    f"{measured['max']:.3f}, avg pooling {measured['avg']:.3f}. Is that what you predicted in the "
                    f"previous exercise? Think about why.")


def _same(a: Tensor, b: Tensor) -> bool:
    return tuple(a.shape) == tuple(b.shape) and torch.allclose(a.float(), b, atol=1e-5)


def _coarsest_miss(got: Tensor, block: SAFM, x: Tensor, pool: str, config: tuple[int, int],
                   references: tuple[Tensor, Tensor]) -> Feedback:
    """What is off in a wrong coarsest level: all levels, another level, hard-coded numbers, max only, a shape."""
    dim, n_levels = config
    c = dim // n_levels
    B, _, H, W = x.shape
    shape = tuple(got.shape)
    where = f"SAFM({dim}, n_levels={n_levels}, pool={pool!r})"
    if shape == (B, dim, H, W):
        return _no(f"{where}：你返回了全部 {n_levels} 层（{dim} 个通道）。只要最粗的一层：它只有 C // L 个通道。",
                   f"{where}: you returned all {n_levels} levels ({dim} channels). Only the coarsest one is asked "
                   "for: it has C // L channels.")
    if config != _CONFIGS[0]:
        return _no(f"SAFM(16, n_levels=4) 对了，但 {where} 不对：别把通道号或层号写死，用 block.dim 和 "
                   "block.n_levels 算出来。",
                   f"SAFM(16, n_levels=4) is right, but {where} is not: do not hard-code channel or level "
                   "numbers; compute them from block.dim and block.n_levels.")
    if shape not in {tuple(r.shape) for r in references}:
        return _no(f"{where}：你返回的形状是 {shape}。最粗一层有 C // L 个通道，空间上是 H×W（上采样后）"
                   "或 H // 2**(L−1)（上采样前），两种都可以。",
                   f"{where}: you returned shape {shape}. The coarsest level has C // L channels, and H x W pixels "
                   "(after upsampling) or H // 2**(L-1) (before it); either is fine.")
    if shape == tuple(references[0].shape):
        with torch.no_grad():
            levels = trace(block, x, keep=True).tensors["levels"]
        for i in range(n_levels - 1):
            if torch.allclose(got.float(), levels[:, i * c:(i + 1) * c], atol=1e-5):
                return _no(f"{where}：这是第 {i} 层。最粗的一层是最后一层（第 L−1 层，池化得最狠）。",
                           f"{where}: that is level {i}. The coarsest level is the last one (level L-1, pooled the "
                           "most).")
    if pool == "avg":
        return _no(f"max 池化的块对了，{where} 不对：用块自己的池化方式（或直接读 trace 的 'levels'），"
                   "不要写死 max。",
                   f"The max-pool block is right, {where} is not: use the block's own pooling (or read the "
                   "trace's 'levels'), do not hard-code max.")
    return _no(f"{where}：形状对了，数值不对。最粗一层是：池化 → 3×3 深度卷积 mfr[L−1] → 最近邻上采样。"
               "trace(block, x, keep=True).tensors['levels'] 里有现成的。",
               f"{where}: the shape is right, the values are not. The coarsest level is: pool -> 3x3 depthwise "
               "conv mfr[L-1] -> nearest upsampling. trace(block, x, keep=True).tensors['levels'] has it ready.")


# --------------------------------------------------------------------------- judge: bilinear SAFM

def _build(factory: Callable[..., Any], dim: int, n_levels: int) -> Any:
    try:
        return factory(dim, n_levels)
    except TypeError:
        return factory(dim, n_levels=n_levels)


def _state_dict_gap(ref: nn.Module, mine: nn.Module) -> str:
    a, b = ref.state_dict(), mine.state_dict()
    missing, extra = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    resized = sorted(k for k in set(a) & set(b) if a[k].shape != b[k].shape)
    parts = [f"missing {missing[:3]}" if missing else "", f"unexpected {extra[:3]}" if extra else "",
             f"other shapes {resized[:3]}" if resized else ""]
    return "; ".join(p for p in parts if p)


def _judge_bilinear(factory: Any) -> Feedback:
    if not callable(factory):
        return _no("answer 应该是一个类（例如 class BilinearSAFM(SAFM)），像 SAFM(dim, n_levels) 一样能构建。",
                   "answer should be a class (e.g. class BilinearSAFM(SAFM)) that builds like SAFM(dim, n_levels).")
    shift = 0.0
    for dim, n_levels in _CONFIGS:
        mine = _build(factory, dim, n_levels)
        if not isinstance(mine, nn.Module):
            return _no(f"answer({dim}, {n_levels}) 得到的是 {type(mine).__name__}，应是一个 nn.Module。",
                       f"answer({dim}, {n_levels}) gave a {type(mine).__name__}; it should be an nn.Module.")
        weights, photo = _photo_case(dim, n_levels)
        ref = SAFM(dim, n_levels).eval()
        ref.load_state_dict(weights)
        gap = _state_dict_gap(ref, mine)
        if gap:
            return _no(f"state_dict 对不上（{gap}）：只改上采样，不要新增、删除或改名参数（mfr、aggr 保持原样）。",
                       f"The state_dict does not match ({gap}): change only the upsampling; add, drop or rename no "
                       "parameter (keep mfr and aggr).")
        mine.load_state_dict(weights)
        mine.eval()
        odd = torch.randn(1, dim, 30, 30, generator=torch.Generator().manual_seed(dim))
        for x in (photo, odd):
            with torch.no_grad():
                out = mine(x.clone())
                if not isinstance(out, Tensor) or tuple(out.shape) != tuple(x.shape):
                    got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                    return _no(f"输入 {tuple(x.shape)} 得到 {got}：SAFM 的输出形状必须和输入一样。",
                               f"Input {tuple(x.shape)} gave {got}: SAFM's output must have the input's shape.")
                if torch.allclose(out, ref(x), atol=1e-5):
                    return _no("输出和原来的 SAFM 一模一样：上采样还是最近邻（nearest）。",
                               "The output equals the original SAFM's: the upsampling is still nearest.")
                if not any(torch.allclose(out, upsampled_reference(ref, x, "bilinear", ac), atol=1e-5)
                           for ac in (False, True)):
                    return _bilinear_miss(out, ref, x, n_levels)
                shift = max(shift, (out - ref(x)).abs().mean().item())
    return Feedback(True,
                    "对！state_dict 原样加载，64×64 和 30×30 的输出形状都不变，n_levels = 3 也能用。"
                    f"粗层不再是一块块的方块：输出和最近邻版本平均相差 {shift:.3f}。",
                    "Right! The state_dict loads as it is, the output keeps its shape at 64x64 and 30x30, and "
                    f"n_levels = 3 works too. The coarse levels are no longer blocky: the output differs from the "
                    f"nearest version by {shift:.3f} on average.")


def _bilinear_miss(out: Tensor, ref: SAFM, x: Tensor, n_levels: int) -> Feedback:
    if torch.allclose(out, upsampled_reference(ref, x, "bicubic", False), atol=1e-5):
        return _no("输出变平滑了，但这是 bicubic（双三次），不是 bilinear（双线性）。",
                   "The output got smoother, but that is bicubic, not bilinear.")
    return _no(f"输出变了，但和双线性版本对不上（n_levels = {n_levels}）。对照 SAFM.forward 检查："
               "第 0 层不池化；第 i 层池化到 (H // 2**i, W // 2**i)、用 mfr[i]；上采样用 mode='bilinear'"
               "（align_corners 取 False 或 True 都接受）；最后是 GELU(aggr(拼接)) * x。",
               f"The output changed but does not match the bilinear version (n_levels = {n_levels}). Check against "
               "SAFM.forward: level 0 is not pooled; level i is pooled to (H // 2**i, W // 2**i) and uses mfr[i]; "
               "upsample with mode='bilinear' (align_corners False or True are both accepted); the end is "
               "GELU(aggr(concatenation)) * x.")


_COARSEST_SOLUTION = '''
from fusion_edu import trace

def coarsest_level(block, x):
    levels = trace(block, x, keep=True).tensors["levels"]  # (B, C, H, W): the L levels side by side
    c = block.dim // block.n_levels                         # channels per level
    return levels[:, -c:]                                   # the last group is level L-1

answer = coarsest_level
'''

_BILINEAR_SOLUTION = '''
import torch
import torch.nn.functional as F
from fusion_edu.blocks import SAFM

class BilinearSAFM(SAFM):
    """SAFM whose coarse levels come back by bilinear upsampling; same parameters, same state_dict."""

    def forward(self, x):
        h, w = x.shape[-2:]
        xc = x.chunk(self.n_levels, dim=1)
        out = [self.mfr[0](xc[0])]
        for i in range(1, self.n_levels):
            s = F.adaptive_max_pool2d(xc[i], (h // 2**i, w // 2**i))
            s = self.mfr[i](s)
            out.append(F.interpolate(s, size=(h, w), mode="bilinear", align_corners=False))
        return self.act(self.aggr(torch.cat(out, dim=1))) * x

answer = BilinearSAFM
'''


def exercises() -> list[Exercise | CodeExercise]:
    """The exercises of SAFM, in the order of the lesson."""
    return [
        Exercise("safm", "int",
                 "SAFM(dim=16, n_levels=4)，输入 30×30。最粗的一层（第 3 层）池化到多大的边长？"
                 "先算，再到 explorer 里设 H = W = 30 核对。",
                 "SAFM(dim=16, n_levels=4) with a 30x30 input. To what side is the coarsest level (level 3) "
                 "pooled? Work it out, then set H = W = 30 in the explorer to check.",
                 lambda: _safm_level_sides(30)[-1],
                 "{answer} = 30 // 8（向下取整）。30 不能被 8 整除：自适应池化的窗口大小不一，最近邻上采样再把方块"
                 "拉回 30——就是陷阱 3 里的混叠。",
                 "{answer} = 30 // 8 (rounded down). 30 is not divisible by 8: the adaptive pool uses uneven windows "
                 "and nearest upsampling stretches the blocks back to 30: the aliasing of pitfall 3.",
                 hints=[Hint(4, "池化大小是向下取整的 H // 2**i。", "The pooled size is H // 2**i, rounded down."),
                        Hint(15, "那是第 1 层；问的是最粗的一层。",
                             "That is level 1; the question asks for the coarsest level.")],
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
        Exercise("safm", "choice",
                 "先预测：同一组权重，把 SAFM(16) 的池化从 max 换成 avg（pool='avg'），在照片上运行。"
                 "最粗一层（第 3 层）特征图的数值，哪种更分散（标准差更大）？下一题用代码量一量。",
                 "Predict first: the same weights, SAFM(16) with max pooling and with avg pooling (pool='avg'), run "
                 "on the photo. Whose coarsest level (level 3) has the more spread-out values (the larger std)? The "
                 "next exercise measures it in code.",
                 _spread_choice,
                 "({answer})：max 池化从每个 8×8 窗口里只留下最强的响应，窗口之间差别大；avg 把窗口里的数平均掉，"
                 "极端值被拉回中间，所以更平滑、更集中。",
                 "({answer}): max pooling keeps only the strongest response of each 8x8 window, so windows differ a "
                 "lot; avg pooling averages a window, pulling extremes towards the middle, so the level is smoother "
                 "and less spread out.",
                 choices=[Choice("a", "max 池化的更分散", "max pooling's is more spread out"),
                          Choice("b", "avg 池化的更分散", "avg pooling's is more spread out",
                                 "平均会把一个窗口里的极端值拉向中间：想想它对数值的分散程度有什么影响。",
                                 "Averaging pulls a window's extremes towards its middle: what does that do to the "
                                 "spread?"),
                          Choice("c", "一样：权重相同，结果就相同", "the same: the same weights give the same result",
                                 "权重相同，但池化不同：第 1–3 层的输入已经不一样了（只有第 0 层相同）。",
                                 "The weights are the same, the pooling is not: levels 1-3 get different inputs "
                                 "(only level 0 is the same).")]),
        CodeExercise("safm",
                     "用代码量一量：写一个函数 coarsest_level(block, x)，返回 SAFM 块 block 在输入 x 上最粗一层"
                     "（第 L−1 层）的特征图（上采样之后或之前都可以）。检查会在 max 和 avg 两种池化、"
                     "SAFM(16, 4) 和 SAFM(12, 3) 上运行它，并报告两种池化的标准差。",
                     "Measure it in code: write a function coarsest_level(block, x) that returns the feature map of "
                     "the coarsest level (level L-1) of the SAFM block `block` on input x (after or before "
                     "upsampling). The check runs it with max and avg pooling, on SAFM(16, 4) and SAFM(12, 3), and "
                     "reports the std of both poolings.",
                     one_thread(_judge_coarsest), _COARSEST_SOLUTION,
                     "trace 的 'levels' 是 L 层在通道上的拼接：每层 C // L 个通道，最后一组就是最粗的一层。"
                     "用 block.dim 和 block.n_levels 算通道数，换一个块也对。",
                     "The trace's 'levels' are the L levels concatenated on the channels: C // L channels each, and "
                     "the last group is the coarsest level. Computing the count from block.dim and block.n_levels "
                     "keeps it right for any block."),
        CodeExercise("safm",
                     "写一个 SAFM 的变体 BilinearSAFM：粗层用双线性插值（mode='bilinear'）而不是最近邻放大回 H×W，"
                     "其他不变。它必须能加载原 SAFM 的 state_dict（strict），输出形状与输入相同。",
                     "Write a SAFM variant BilinearSAFM whose coarse levels come back to H x W by bilinear "
                     "interpolation (mode='bilinear') instead of nearest; nothing else changes. It must load the "
                     "original SAFM's state_dict (strict), and its output must have the input's shape.",
                     one_thread(_judge_bilinear), _BILINEAR_SOLUTION,
                     "上采样没有参数，所以只改 forward 的一行，state_dict 不变，原来的权重直接能用。双线性插值让粗层"
                     "不再是方块，H 不能被 2**i 整除时的混叠也会变弱。",
                     "Upsampling has no parameters, so changing one line of forward keeps the state_dict and the "
                     "original weights load as they are. Bilinear interpolation makes the coarse levels smooth instead "
                     "of blocky, and softens the aliasing when H is not divisible by 2**i."),
    ]
