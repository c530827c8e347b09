"""Exercises for OSRA: H' for an odd sr_ratio, by hand and then as a function checked against the block, the
attention's memory, the official GELU as a variant that loads the note's state_dict, and what the head count
does to the parameters.

The code exercises' judges build their own blocks and inputs, run the student's function or class and
compare with the block itself; the feedback says what is right and where to look, never the code.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import Tensor, nn

from ...blocks import OSRAttention, reduced_size
from ..demo import torch_threads
from ..feedback import Choice, CodeExercise, Exercise, Feedback, Hint
from .common import kept_shape, one_thread, params

__all__ = ["exercises", "SIDES", "RATIOS", "sr_sides"]

SIDES = (*range(1, 34), 56, 64)  # input sides H the H' function is checked on
RATIOS = tuple(range(1, 9))  # sr_ratio values it is checked on


def _osra_attn_mib(side: int, sr_ratio: int, num_heads: int = 8) -> float:
    shape = kept_shape("osra", "attn", B=1, C=64, H=side, W=side, num_heads=num_heads, sr_ratio=sr_ratio)
    return 4 * math.prod(shape) / 2**20


def _osra_attn_mib_formula(side: int, sr_ratio: int, num_heads: int = 8) -> float:
    cells = reduced_size(side, sr_ratio) ** 2
    return 4 * num_heads * side * side * cells / 2**20


def _heads_choice() -> str:
    """What halving the heads (8 -> 4) does to OSRAttention(64)'s parameter count: a halves, b same, c doubles."""
    eight, four = params(OSRAttention(64, num_heads=8)), params(OSRAttention(64, num_heads=4))
    return "b" if four == eight else "a" if 2 * four == eight else "c"


def _no(zh: str, en: str) -> Feedback:
    return Feedback(False, zh, en)


# --------------------------------------------------------------------------- judge: H' as a function

@functools.cache
def sr_sides() -> dict[tuple[int, int], int]:
    """H' for every (H, r) in SIDES x RATIOS: the side of what the block's own ``sr`` layer outputs.

    This is the H' that a trace binds; ``sr`` is ``nn.Identity`` for r = 1. Only its strided conv
    ``sr.0`` changes the size (the rest is BN, activation and a 1x1 conv), and one channel keeps it fast.
    """
    out = {}
    with torch.no_grad(), torch_threads(1):
        for r in RATIOS:
            sr = OSRAttention(1, num_heads=1, sr_ratio=r).sr
            resize = sr if isinstance(sr, nn.Identity) else sr[0]
            for H in SIDES:
                out[(H, r)] = resize(torch.zeros(1, 1, H, H)).shape[-1]
    return out


def _judge_h_prime(fn: Any) -> Feedback:
    if not callable(fn) or isinstance(fn, type):
        return _no("answer 应该是一个函数：h_prime(H, r)，返回整数 H'。",
                   "answer should be a function h_prime(H, r) that returns the integer H'.")
    truth = sr_sides()
    wrong: dict[int, list[tuple[int, Any, int]]] = {}
    for (H, r), side in truth.items():
        got = fn(H, r)
        if isinstance(got, Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)) or got != int(got):
            return _no(f"h_prime({H}, {r}) 返回了 {got!r}：H' 是一个整数（边长）。",
                       f"h_prime({H}, {r}) returned {got!r}: H' is an integer (a side length).")
        if int(got) != side:
            wrong.setdefault(r, []).append((H, int(got), side))
    if not wrong:
        return Feedback(True,
                        f"对！{len(truth)} 种 (H, r)（H = 1…64，r = 1…8）都和 sr 层的真实输出一致，"
                        "也就是 trace 里的 H'。",
                        f"Right! All {len(truth)} cases (H = 1...64, r = 1...8) match the real output of the sr "
                        "layer, i.e. the trace's H'.")
    right = [r for r in RATIOS if r not in wrong]
    H, got, side = wrong[min(wrong)][0]
    example_zh = f"例如 h_prime({H}, {min(wrong)}) 给 {got}，而 trace 里是 {side}。"
    example_en = f"For example h_prime({H}, {min(wrong)}) gives {got}; the trace has {side}."
    listed = ", ".join(map(str, right))
    right_zh = f"r = {listed} 全对；" if right else ""
    right_en = f"r = {listed} are all right; " if right else ""
    if set(wrong) == {1}:
        return _no(f"只有 r = 1 不对：sr_ratio = 1 时 sr 是 nn.Identity，根本没有卷积。{example_zh}",
                   f"Only r = 1 is wrong: with sr_ratio = 1, sr is nn.Identity, there is no conv at all. {example_en}")
    if all(r % 2 == 1 for r in wrong) and all(r % 2 == 0 for r in right if r > 1):
        return _no(f"{right_zh}奇数 r 不对：奇数 r 时核 r+3 是偶数，padding (r+3)//2 正好是核的一半。"
                   f"用卷积输出公式 (H + 2·padding − kernel)//stride + 1 再算一遍。{example_zh}",
                   f"{right_en}odd r are wrong: for odd r the kernel r+3 is even and the padding (r+3)//2 is exactly "
                   f"half of it. Use the conv output formula (H + 2*padding - kernel)//stride + 1. {example_en}")
    misses = ", ".join(map(str, sorted(wrong)))
    return _no(f"{right_zh}r = {misses} 有不对的。sr 是核 r+3、步长 r、padding (r+3)//2 的卷积："
               f"用卷积输出公式算。{example_zh}",
               f"{right_en}r = {misses} have misses. sr is a conv with kernel r+3, stride r and padding "
               f"(r+3)//2: use the conv output formula. {example_en}")


# --------------------------------------------------------------------------- judge: the official GELU

_CASES = ((64, {}), (16, {"num_heads": 2, "sr_ratio": 4}), (16, {"num_heads": 2, "sr_ratio": 1}))


def _judge_gelu(factory: Any) -> Feedback:
    if not callable(factory):
        return _no("answer 应该是一个类（或返回模块的函数），像 OSRAttention(dim, num_heads=…, sr_ratio=…) 一样构建。",
                   "answer should be a class (or a function returning a module) that builds like "
                   "OSRAttention(dim, num_heads=..., sr_ratio=...).")
    biggest = 0.0
    for dim, kwargs in _CASES:
        call = f"answer({dim}{''.join(f', {k}={v}' for k, v in kwargs.items())})"
        try:
            mine = factory(dim, **kwargs)
        except (TypeError, AttributeError, IndexError) as e:
            if kwargs.get("sr_ratio") == 1:
                return _no(f"{call} 出错（{type(e).__name__}: {e}）。sr_ratio = 1 时 sr 是 nn.Identity，"
                           "没有激活可换：这时保持原样。",
                           f"{call} failed ({type(e).__name__}: {e}). With sr_ratio = 1, sr is nn.Identity and has no "
                           "activation to swap: leave it as it is then.")
            return _no(f"{call} 出错（{type(e).__name__}: {e}）：它要能接收 OSRAttention 的参数，"
                       "例如 num_heads=…、sr_ratio=…。",
                       f"{call} failed ({type(e).__name__}: {e}): it must take OSRAttention's arguments, such as "
                       "num_heads=... and sr_ratio=....")
        if not isinstance(mine, nn.Module):
            return _no(f"{call} 得到的是 {type(mine).__name__}，应是一个 nn.Module。",
                       f"{call} gave a {type(mine).__name__}; it should be an nn.Module.")
        with torch.random.fork_rng(devices=[]):  # the same weights at every check: the reported numbers repeat
            torch.manual_seed(dim)
            note = OSRAttention(dim, **kwargs).eval()
        official = OSRAttention(dim, **kwargs, act="gelu").eval()
        try:
            mine.load_state_dict(note.state_dict())
        except RuntimeError:
            return _no(f"{call}：笔记版本的 state_dict 加载不了（strict）。激活函数没有参数，换它不应该改变任何键。",
                       f"{call}: the note version's state_dict does not load (strict). An activation has no "
                       "parameters, so swapping it must change no key.")
        official.load_state_dict(note.state_dict())
        mine.eval()
        x = torch.randn(2, dim, 7, 7, generator=torch.Generator().manual_seed(dim))
        with torch.no_grad():
            out, want, relu = mine(x), official(x), note(x)
        if not isinstance(out, Tensor) or out.shape != x.shape:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            return _no(f"{call}：输出 {got}，应与输入形状 {tuple(x.shape)} 相同。",
                       f"{call}: the output is {got}; it should have the input's shape {tuple(x.shape)}.")
        if torch.allclose(out, want, atol=1e-6):
            biggest = max(biggest, (out - relu).abs().max().item())
            continue
        if torch.allclose(out, relu, atol=1e-6):
            return _no(f"{call}：输出和笔记的 ReLU 版本一模一样，sr 里还是 ReLU？",
                       f"{call}: the output equals the note's ReLU version. Is sr still using ReLU?")
        if torch.allclose(out, want, atol=1e-3):
            return _no(f"{call}：很接近了，但官方用的是精确的 GELU（approximate='none'），不是 tanh 近似。",
                       f"{call}: very close, but the official code uses the exact GELU (approximate='none'), not the "
                       "tanh approximation.")
        return _no(f"{call}：输出既不是 ReLU 版本，也不是官方 GELU 版本。激活在 sr 的第 2 层（sr.2，第一个 BN 之后），"
                   "其余都不变。",
                   f"{call}: the output is neither the ReLU version nor the official GELU version. The activation is "
                   "layer 2 of sr (sr.2, after the first BN); nothing else changes.")
    return Feedback(True,
                    "对！笔记版本的 state_dict 原样加载（键完全相同），sr_ratio = 1 也能用；同一组权重下，"
                    f"输出与 ReLU 版本最大相差 {biggest:.3f}。同一份权重，换个激活就是不同的网络。",
                    "Right! The note version's state_dict loads as it is (the very same keys), and sr_ratio = 1 works "
                    f"too; with the same weights the output differs from the ReLU version by up to {biggest:.3f}. Same "
                    "weights, another activation: another network.")


_H_PRIME_SOLUTION = '''
def h_prime(H, r):
    if r == 1:                                  # sr is nn.Identity: no reduction
        return H
    kernel, padding = r + 3, (r + 3) // 2      # the sr conv: kernel r+3, stride r
    return (H + 2 * padding - kernel) // r + 1  # the conv output formula

answer = h_prime
'''

_GELU_SOLUTION = '''
from torch import nn
from fusion_edu.blocks import OSRAttention

class OfficialOSRA(OSRAttention):
    """OSRA with TransXNet's GELU in sr (the note has ReLU); the same parameters and state_dict."""

    def __init__(self, dim, num_heads=8, qk_scale=None, attn_drop=0, sr_ratio=2):
        super().__init__(dim, num_heads, qk_scale, attn_drop, sr_ratio)
        if sr_ratio > 1:  # with sr_ratio = 1, sr is nn.Identity: nothing to swap
            self.sr[2] = nn.GELU()

answer = OfficialOSRA
# the package's switch does the same: answer = functools.partial(OSRAttention, act="gelu")
'''


def exercises() -> list[Exercise | CodeExercise]:
    """The exercises of OSRA, in the order of the lesson."""
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
        CodeExercise("osra",
                     "把上一题写成函数：h_prime(H, r) 返回 OSRA 缩减后 key 网格的边长 H'，对任何 H 和 sr_ratio r 都对"
                     "（包括 r = 1 和奇数 r）。检查会拿它和 sr 层的真实输出（trace 里的 H'）逐个对照。",
                     "Turn the previous exercise into a function: h_prime(H, r) returns the side H' of OSRA's reduced "
                     "key grid for any H and sr_ratio r (r = 1 and odd r included). The check compares it, case by "
                     "case, with the real output of the sr layer (the trace's H').",
                     one_thread(_judge_h_prime), _H_PRIME_SOLUTION,
                     "sr 是核 r+3、步长 r、padding (r+3)//2 的卷积，套卷积输出公式即可。偶数 r 时核是奇数，结果是 "
                     "ceil(H/r)；奇数 r 时核是偶数，结果是 H//r + 1，比 ceil(H/r) 可能多一格。r = 1 时没有卷积。",
                     "sr is a conv with kernel r+3, stride r and padding (r+3)//2: apply the conv output formula. "
                     "For even r the kernel is odd and the result is ceil(H/r); for odd r the kernel is even and the "
                     "result is H//r + 1, which can be one more than ceil(H/r). With r = 1 there is no conv."),
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
        CodeExercise("osra",
                     "笔记在 sr 里用 ReLU，TransXNet 官方代码用 GELU。写一个官方版本：子类（例如 class "
                     "OfficialOSRA(OSRAttention)）或者用参数都行。它要能加载笔记版本的 state_dict（strict），"
                     "在同一组权重下输出与笔记版本不同；sr_ratio = 1 时也要能用。",
                     "The note uses ReLU in sr; TransXNet's official code uses GELU. Write the official version: a "
                     "subclass (e.g. class OfficialOSRA(OSRAttention)) or an argument, either is fine. It must load "
                     "the note version's state_dict (strict) and, with the same weights, give different outputs; it "
                     "must also work with sr_ratio = 1.",
                     one_thread(_judge_gelu), _GELU_SOLUTION,
                     "激活函数没有参数，所以 state_dict 的键一个不变，笔记的权重直接能加载；但 ReLU 把负数变 0，"
                     "GELU 让负数留下一点点，key/value 就不同了。sr_ratio = 1 时 sr 是 nn.Identity，没有激活可换。",
                     "An activation has no parameters, so not one state_dict key changes and the note's weights load "
                     "as they are; but ReLU sets negatives to 0 while GELU lets a little of them through, so the keys "
                     "and values differ. With sr_ratio = 1, sr is nn.Identity and has no activation to swap."),
        Exercise("osra", "choice",
                 "笔记把 8 个头读成 8 个老师、各教一章。把 OSRAttention(64) 的头数从 8 改成 4，参数量会怎样？",
                 "The note reads 8 heads as 8 teachers who each teach one chapter. Change OSRAttention(64) from 8 "
                 "heads to 4: what happens to the parameter count?",
                 _heads_choice,
                 "({answer})：头只是把 C 个通道分组（nh × hd = C），q、kv、sr、local_conv 的卷积一个都没变。"
                 "老师少了，每人教的章节变长，书还是那本书。",
                 "({answer}): heads only group the C channels (nh x hd = C); not one conv of q, kv, sr or local_conv "
                 "changes. Fewer teachers, each teaching a longer chapter: the same book.",
                 choices=[Choice("a", "减半", "it halves",
                                 "头不是独立的层：它们只是把同一个 q、k、v 的通道分开看。",
                                 "Heads are not separate layers: they look at the channels of the same q, k and v "
                                 "in groups."),
                          Choice("b", "不变", "it stays the same"),
                          Choice("c", "翻倍", "it doubles",
                                 "少了头不会多出参数：数一数 q、kv、sr、local_conv 里哪个卷积和 nh 有关。",
                                 "Fewer heads add no parameters: count which conv of q, kv, sr and local_conv "
                                 "depends on nh.")]),
    ]
