"""Exercises for notebook 09, bring your own block: predict a stitch's cost, count compare's steps, and write a
block whose autotrace shows the spec you want.

They are not in the catalog's `EXERCISES` (which has one list per catalog block): this notebook is about
the student's own modules. Use them as ``exercise(n)`` or ``EXERCISES[n - 1]``.

Example:
    >>> ex = exercise(3)
    >>> ex.check(None).answered
    False
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ...autotrace import autotrace
from ...blocks import SAFM
from ...compare import compare
from ...errors import message, value_error
from ...remix import stitch
from ...remix.hosts import resnet18
from ..feedback import CodeExercise, Exercise, Feedback, Hint

__all__ = ["EXERCISES", "exercise", "TARGET_SPEC", "judge_downsampler"]

KEY = "your_block"
TARGET_SPEC = "B 2*C H//2 W//2"
"""What exercise 3's block must give, as autotrace writes it: half the size, twice the channels."""


# --------------------------------------------------------------------------- 1: a stitch's cost

def _stitch_safm_params() -> int:
    stitched = stitch(resnet18(num_classes=10), at="layer2", block=SAFM(128), input_shape=(1, 3, 128, 128))
    before, after = stitched.params
    return after - before


# --------------------------------------------------------------------------- 2: where compare parts

class _ReLUSAFM(SAFM):
    """SAFM with ReLU in place of GELU: the copy whose first different step exercise 2 asks for."""

    def __init__(self, dim: int, n_levels: int = 4):
        super().__init__(dim, n_levels)
        self.act = nn.ReLU()


def _relu_first_difference() -> int:
    x = torch.randn(1, 16, 32, 32, generator=torch.Generator().manual_seed(0))
    found = compare(_ReLUSAFM(16), SAFM(16), x, lang="en").first_difference
    if found is None:
        raise RuntimeError("compare found no difference between GELU and ReLU")
    return found.index


# --------------------------------------------------------------------------- 3: a block with a given spec

def _no(zh: str, en: str) -> Feedback:
    return Feedback(False, zh, en)


def judge_downsampler(answer: Any) -> Feedback:
    """Exercise 3: does `autotrace` of the student's class (or ``lambda C: ...``) end in `TARGET_SPEC`?

    The class is traced at (1, 8, 16, 16); autotrace rebuilds it at other C, H and W, so the spec it
    writes holds for every size, odd ones included.
    """
    if isinstance(answer, nn.Module):
        return _no("这是一个建好的模块：它的通道数已经固定，autotrace 只能把通道写成数字。请给类本身"
                   "（或 lambda C: ...），让 autotrace 能在别的 C 下重建它。",
                   "This is a built module: its channels are fixed, so autotrace can only write them as a number. "
                   "Give the class itself (or lambda C: ...) so that autotrace can rebuild it at other C.")
    if not callable(answer):
        return _no(f"answer 应是一个模块类（或接收 C 的函数），你给的是 {type(answer).__name__}。",
                   f"answer should be a module class (or a function of C); you gave a {type(answer).__name__}.")
    x = torch.randn(1, 8, 16, 16)
    try:
        result = autotrace(answer, x, lang="en")
    except TypeError as e:
        return _no(f"autotrace 建不出你的模块：{message(e, 'zh')}。构造函数的第一个参数应接收通道数 C"
                   "（其余参数要有默认值）。",
                   f"autotrace cannot build your module: {e}. The constructor's first parameter should take the "
                   "channels C (give the others defaults).")
    except (ValueError, RuntimeError) as e:
        return _no(f"autotrace 跑不通你的模块：{message(e, 'zh')}", f"autotrace cannot run your module: {e}")
    if not result.rows or not isinstance(result.output, Tensor):
        return _no("你的模块没有产生任何步骤，或者没有返回一个张量。",
                   "Your module records no step or returns no tensor.")
    spec = result.rows[-1].spec
    if spec == TARGET_SPEC:
        odd = _odd_size_problem(answer)
        if odd:
            return _no(f"偶数尺寸下 autotrace 写出 {spec}，但 15×15 的输入跑不通：{odd}。要的是减半、向下取整："
                       "奇数尺寸丢掉最后一行，而不是报错。",
                       f"For even sizes autotrace writes {spec}, but a 15x15 input fails: {odd}. The target halves "
                       "and rounds down: an odd size drops its last row instead of failing.")
        return Feedback(True, f"对了：autotrace 写出 {spec}。它在 H、W 为奇数时也成立：H//2 向下取整，"
                        "和 ResNet、Swin 的下采样一样。",
                        f"Right: autotrace writes {spec}. It holds for odd H and W too: H//2 rounds down, as in "
                        "the downsampling of ResNet or Swin.")
    dims = spec.split()
    if len(dims) != 4:
        return _no(f"最后一步是 {spec}：应是 4 维 (B, C, H, W)。",
                   f"The last step is {spec}: it should be 4-D (B, C, H, W).")
    if "C" not in dims[1]:
        fixed = "C" in getattr(result, "fixed", {})
        return _no(f"通道写成了 {dims[1]}，不是 C 的表达式" + ("：autotrace 没法改变 C（见表上方的“固定”一行）。"
                                                               if fixed else "。") + "构造函数的参数要叫 C，"
                   "卷积的通道数要由它算出来。",
                   f"The channels read {dims[1]}, not an expression in C"
                   + (": autotrace could not move C (see the 'fixed' line above the table). " if fixed else ". ")
                   + "Name the constructor's parameter C and compute the convs' channels from it.")
    zh, en = [], []
    if dims[1] != "2*C":
        zh.append(f"通道是 {dims[1]}，要的是 2*C")
        en.append(f"the channels are {dims[1]}; the target is 2*C")
    rounded_up = [name for axis, name in ((2, "H"), (3, "W")) if dims[axis] == f"({name}+1)//2"]
    if rounded_up:
        names = "、".join(rounded_up)
        zh.append(f"{names} 写成了 {'、'.join(f'({n}+1)//2' for n in rounded_up)}：尺寸为奇数时会多出一行"
                  "（3×3、步长 2、padding 1 的卷积就是这样）。换一个核大小和 padding 的组合，让奇数时向下取整")
        en.append(f"{' and '.join(rounded_up)} read {', '.join(f'({n}+1)//2' for n in rounded_up)}: one row more "
                  "for an odd size (as with a 3x3 conv, stride 2, padding 1). Pick a kernel size and padding that "
                  "round down for odd sizes")
    for axis, name in ((2, "H"), (3, "W")):
        if name not in rounded_up and dims[axis] != f"{name}//2":
            zh.append(f"{name} 是 {dims[axis]}，要的是减半、向下取整：{name}//2")
            en.append(f"{name} is {dims[axis]}; the target halves it, rounding down: {name}//2")
    return _no(f"autotrace 写出 {spec}。" + "；".join(zh) + "。", f"autotrace writes {spec}: " + "; ".join(en) + ".")


def _odd_size_problem(answer: Any) -> str:
    """'' when the block takes a 15x15 input and gives 7x7; else what went wrong (autotrace infers H//2 from even sizes
    when odd ones fail, e.g. PixelUnshuffle)."""
    try:
        result = autotrace(answer, torch.randn(1, 8, 15, 15), lang="en")
    except (TypeError, ValueError, RuntimeError) as e:
        return str(e).split(": ", 2)[-1][:160]
    shape = result.output_shapes[0] if result.output_shapes else None
    return "" if shape == (1, 16, 7, 7) else f"it gives {shape}"


_DOWNSAMPLER_SOLUTION = '''
class Down(nn.Module):
    def __init__(self, C: int):
        super().__init__()
        self.reduce = nn.Conv2d(C, 2 * C, kernel_size=2, stride=2)

    def forward(self, x):
        return self.reduce(x)
'''


# --------------------------------------------------------------------------- the list

def exercises() -> list[Exercise | CodeExercise]:
    """The exercises of notebook 09, in order."""
    items: list[Exercise | CodeExercise] = [
        Exercise(KEY, "int",
                 "把 SAFM(128) 缝到 resnet18(num_classes=10) 的 layer2 之后（stitch(..., at='layer2', "
                 "block=SAFM(128), input_shape=(1, 3, 128, 128))）。参数会多出多少个？先算，再运行验证。",
                 "Stitch SAFM(128) after layer2 of resnet18(num_classes=10) (stitch(..., at='layer2', block=SAFM(128), "
                 "input_shape=(1, 3, 128, 128))). How many parameters does it add? Work it out, then run it.",
                 _stitch_safm_params,
                 "{answer}：layer2 输出 128 个通道，正是 SAFM(128) 要的，所以不需要任何适配器；"
                 "多出来的全是 SAFM 自己的：4 个尺度各一个 32 通道的 3×3 深度卷积（4 × (32·9 + 32) = 1,280），"
                 "加上 aggr 这个 1×1 卷积（128·128 + 128 = 16,512）。",
                 "{answer}: layer2 gives 128 channels, exactly what SAFM(128) takes, so no adapter is needed; every "
                 "new parameter is SAFM's own: one 3x3 depthwise conv of 32 channels per level (4 x (32*9 + 32) = "
                 "1,280) plus aggr, a 1x1 conv (128*128 + 128 = 16,512).",
                 hints=[Hint(16_512, "这只是 aggr（1×1 卷积）：每个尺度还有一个 3×3 深度卷积。",
                             "That is aggr (the 1x1 conv) alone: each level also has a 3x3 depthwise conv."),
                        Hint(16_384, "1×1 卷积还带 128 个偏置；每个尺度的 3×3 深度卷积也还没算。",
                             "The 1x1 conv has 128 biases too, and the 3x3 depthwise convs of the levels are missing."),
                        Hint(53_504, "mfr 里的卷积是深度卷积（groups = 通道数）：每个输出通道只看自己的输入通道。",
                             "The convs in mfr are depthwise (groups = channels): each output channel sees only its "
                             "own input channel."),
                        Hint(50_816, "layer2 输出 128 个通道，正是 SAFM(128) 要的：这里不需要 1×1 适配器。",
                             "layer2 gives 128 channels, just what SAFM(128) takes: no 1x1 adapter is needed here.")],
                 nudge_zh="SAFM(128) 有 4 个尺度，每个 32 个通道；数 mfr（3×3 深度卷积）和 aggr（1×1 卷积）"
                 "的权重和偏置。",
                 nudge_en="SAFM(128) has 4 levels of 32 channels; count the weights and biases of mfr (3x3 depthwise "
                 "convs) and aggr (a 1x1 conv)."),
        Exercise(KEY, "int",
                 "假如你抄的 SAFM 把 GELU 写成了 ReLU（其余都对）。compare(它, SAFM(16), x) 会在第几步报出第一个不同？",
                 "Suppose your copy of SAFM has ReLU where GELU belongs (all else right). At which step does "
                 "compare(it, SAFM(16), x) report the first difference?",
                 _relu_first_difference,
                 "第 {answer} 步：compare 按顺序给每个产生张量的步骤编号。chunk 的 4 份是第 1–4 步，"
                 "尺度 0 的卷积是第 5 步，三个粗尺度各有池化、卷积、插值三步（6–14），然后是拼接（15）、"
                 "aggr（16），激活是第 {answer} 步。"
                 "ReLU 和 GELU 只在负数上不同，所以这一步的值就分开了。",
                 "Step {answer}: compare numbers every tensor-producing step in order. The 4 chunk pieces are "
                 "steps 1-4, level 0's conv is step 5, the three coarse levels have pool, conv and interpolate "
                 "each (6-14), then concatenate (15), aggr (16), and the activation is step {answer}. ReLU and GELU "
                 "differ on negative inputs, so the values part right there.",
                 hints=[Hint(16, "第 16 步是 aggr 的 1×1 卷积：它的输入和权重两边都一样。",
                             "Step 16 is aggr, the 1x1 conv: its input and weights are the same on both sides."),
                        Hint(18, "乘以 x 之前，激活那一步的值就已经不同了。",
                             "The values already differ at the activation, before the product with x."),
                        Hint(1, "前面的步骤（chunk、卷积、池化、插值）两边完全一样：差别在激活。",
                             "The early steps (chunk, convs, pooling, interpolation) are identical: the difference is "
                             "in the activation.")],
                 nudge_zh="chunk 的 4 份各算一步；每个粗尺度有池化、卷积、插值三步。",
                 nudge_en="Each of the 4 chunk pieces is a step; each coarse level has pool, conv and interpolate."),
        CodeExercise(KEY,
                     f"写一个下采样模块：高、宽减半（向下取整），通道翻倍，让 autotrace 的最后一行写出 {TARGET_SPEC}。"
                     "answer 给类本身（构造函数的第一个参数叫 C），不要给建好的模块。",
                     "Write a downsampling block that halves H and W (rounding down) and doubles the channels, so "
                     f"that autotrace's last row reads {TARGET_SPEC}. Give the class itself as the answer (its "
                     "constructor's first parameter named C), not a built module.",
                     judge_downsampler, _DOWNSAMPLER_SOLUTION,
                     "2×2、步长 2 的卷积把每个 2×2 的块压成一个像素：输出 (H−2)//2 + 1 = H//2，H 为奇数时丢掉最后一行；"
                     "3×3、步长 2、padding 1 的卷积则给出 (H+1)//2。2×2 最大池化接 1×1 卷积也向下取整；"
                     "PixelUnshuffle(2) 接 1×1 卷积（4C → 2C）在偶数尺寸下形状相同，奇数尺寸则会报错。",
                     "A 2x2 conv with stride 2 turns each 2x2 patch into one pixel: the output is (H-2)//2 + 1 = H//2, "
                     "dropping the last row when H is odd; a 3x3 conv with stride 2 and padding 1 gives (H+1)//2 "
                     "instead. 2x2 max pooling then a 1x1 conv rounds down too; PixelUnshuffle(2) then a 1x1 conv "
                     "(4C -> 2C) gives the same shape for even sizes but fails on odd ones."),
    ]
    for n, ex in enumerate(items, start=1):
        ex.n = n
    return items


EXERCISES: list[Exercise | CodeExercise] = exercises()


def exercise(n: int) -> Exercise | CodeExercise:
    """Exercise number `n` (from 1) of notebook 09."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(EXERCISES):
        raise value_error("your_block.exercise", f"n must be 1..{len(EXERCISES)}", {"n": n},
                          "Example: exercise(1).", zh=f"n 只能取 1..{len(EXERCISES)}", zh_hint="例如 exercise(1)。")
    return EXERCISES[n - 1]
