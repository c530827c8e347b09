"""Exercises for MFE: questions with answers computed from the package, checks with hints."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from ...blocks import MFEBlock
from ..feedback import Choice, CodeExercise, Exercise, Feedback, Hint
from .common import params


def _field_side(block: nn.Module, branch: int = 3) -> int:
    """Width of the input region that reaches one output pixel of branch y_i, measured on a copy of `block`.

    Every conv weight is set to 1 and the input is all ones, so no ReLU can hide a path: the width
    comes from the architecture alone (autograd on the centre pixel of layer{branch + 1}'s output).
    """
    block = copy.deepcopy(block).eval()
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0)
    layer = (block.layer1, block.layer2, block.layer3, block.layer4)[branch]
    seen: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
    size = 4 * (1 + 2 * sum(block.atrous_rates)) + 1
    x = torch.ones(1, block.in_channels, size, size, requires_grad=True)
    try:
        block(x)
    finally:
        handle.remove()
    seen[0][0, 0, size // 2, size // 2].backward()
    cols = (x.grad[0].abs().sum((0, 1)) > 0).nonzero()
    return int(cols.max() - cols.min() + 1)


def _mfe_receptive_field(rates: Sequence[int], branch: int = 3) -> int:
    """Receptive-field side of branch y_i of MFEBlock(1, rates)."""
    return _field_side(MFEBlock(1, list(rates)), branch)


def exercises() -> list[Exercise | CodeExercise]:
    """The exercises of MFE, in order (new ones go at the end: notebooks and tests use the numbers)."""
    return [
        Exercise("mfe", "int",
                 "MFEBlock(64, atrous_rates=[2, 4, 8])：分支 y3 的一个输出像素能看到多宽的输入区域"
                 "（感受野边长，像素）？",
                 "MFEBlock(64, atrous_rates=[2, 4, 8]): how wide is the input region that one output pixel of "
                 "branch y3 can see (receptive field side, in pixels)?",
                 lambda: _mfe_receptive_field((2, 4, 8)),
                 "{answer}：分支是级联的（y1 = layer2(y0 + x) …），每级空洞卷积加宽 2×rate：3 + 4 + 8 + 16。",
                 "{answer}: the branches are cascaded (y1 = layer2(y0 + x) ...), and each dilated conv adds "
                 "2 x rate: 3 + 4 + 8 + 16.",
                 hints=[Hint(17, "这是只有最后一个空洞卷积（rate 8）时的感受野；前面的分支是串起来的。",
                             "That is the field of the last dilated conv (rate 8) alone; the branches are chained."),
                        Hint(15, "这是 y2 的感受野；y3 还要再经过一级空洞卷积。",
                             "That is y2's field; y3 adds one more dilated stage.")],
                 nudge_zh="每一级都在上一级的基础上再加宽。", nudge_en="Every stage widens the previous one."),
        Exercise("mfe", "int",
                 "在 explorer（explore('mfe')）里把 rate1、rate2、rate3 设为 3、6、12。y3 的感受野边长变成多少？",
                 "In the explorer (explore('mfe')) set rate1, rate2, rate3 to 3, 6, 12. What is the receptive-field "
                 "side of y3 now?",
                 lambda: _mfe_receptive_field((3, 6, 12)),
                 "{answer} = 3 + 2·(3 + 6 + 12)。注意：输入小于感受野时，外圈的抽头只会读到零填充。",
                 "{answer} = 3 + 2*(3 + 6 + 12). Note: on inputs smaller than that, the outer taps only read zero "
                 "padding.",
                 hints=[Hint(25, "这只算了最后一级（rate 12）。", "That counts only the last stage (rate 12)."),
                        Hint(21, "这是把 rate 直接相加；每级加宽的是 2×rate。",
                             "That adds the rates; each stage adds 2 x rate.")],
                 nudge_zh="感受野 = 3 + 每级加宽之和。", nudge_en="Field = 3 + the sum of what each stage adds."),
        Exercise("mfe", "int",
                 "MFEBlock(64, [2, 4, 8]) 中，做尺度加权的 SE1..SE4 一共有多少个参数？",
                 "In MFEBlock(64, [2, 4, 8]), how many parameters do SE1..SE4 (the scale weighting) have in total?",
                 lambda: sum(params(getattr(MFEBlock(64, [2, 4, 8]), f"SE{i}")) for i in range(1, 5)),
                 "{answer} = 4·C²：每个 SE 是一个无偏置的 1×1 卷积 C→C。",
                 "{answer} = 4*C^2: each SE is one bias-free 1x1 conv from C to C.",
                 hints=[Hint(16640, "笔记里的 SE 卷积没有偏置。", "The note's SE convs have no bias."),
                        Hint(4096, "有四个 SE，不是一个。", "There are four SEs, not one.")],
                 nudge_zh="每个 SE 是一个 1×1 卷积。", nudge_en="Each SE is one 1x1 conv."),
        Exercise("mfe", "choice",
                 "demo 中大半径任务把有效感受野明显拉宽，但分支权重只从 0.25 变到约 0.3。主要原因是？",
                 "In the demo the wide task clearly widens the effective receptive field, but the branch weights "
                 "move only from 0.25 to about 0.3. Why, mainly?",
                 lambda: "b",
                 "({answer})：softmax(sigmoid) 把权重限制在 (0.109, 0.475)，而且每个分支自己的卷积和 BN 的 γ "
                 "也能放大或缩小它，权重是冗余的。",
                 "({answer}): softmax(sigmoid) bounds the weights to (0.109, 0.475), and each branch's own convs "
                 "and BN gamma can scale it just as well: the weights are redundant.",
                 choices=[Choice("a", "任务其实不需要大感受野", "the task does not really need a wide field",
                                 "对照任务（半径 1）的感受野明显更窄：大半径任务确实需要它。",
                                 "The control task (radius 1) ends with a much narrower field: the wide task"
                                 " needs it."),
                          Choice("b", "权重有上下限，而且和分支自身的卷积/BN 缩放冗余",
                                 "the weights are bounded and redundant with the branches' own conv/BN scaling"),
                          Choice("c", "空洞分支没有被训练", "the dilated branches are not trained",
                                 "所有分支都在计算图里，都有梯度。", "Every branch is in the graph and gets "
                                 "gradients.")]),
        Exercise("mfe", "int",
                 "先预测：把 MFEBlock(64, [2, 4, 8]) 中 layer4 的空洞 3×3 卷积换成 depthwise（groups = 64，"
                 "空洞率和 padding 不变），整个块还剩多少个参数？",
                 "Predict first: in MFEBlock(64, [2, 4, 8]), make layer4's dilated 3x3 conv depthwise (groups = 64, "
                 "same dilation and padding). How many parameters does the whole block have then?",
                 lambda: params(_depthwise_layer4(64, [2, 4, 8])),
                 "{answer} = 41C² + 10C − 9C² + 9C：普通 3×3 卷积 C→C 有 9C² 个权重，depthwise 每个通道只有自己的 "
                 "3×3，共 9C 个。",
                 "{answer} = 41C^2 + 10C - 9C^2 + 9C: a plain 3x3 conv from C to C has 9C^2 weights; a depthwise one "
                 "keeps one 3x3 per channel, 9C in all.",
                 hints=[Hint(168_576, "那是原来的参数量；depthwise 卷积的权重要少得多。",
                             "That is the original count; a depthwise conv has far fewer weights."),
                        Hint(131_712, "这相当于把 layer4 的卷积整个删掉；depthwise 卷积每个通道仍有一个 3×3 的核。",
                             "That removes layer4's conv altogether; a depthwise conv still keeps one 3x3 kernel per "
                             "channel.")],
                 nudge_zh="普通 3×3 卷积 C→C 有 9C² 个权重；depthwise 呢？",
                 nudge_en="A plain 3x3 conv from C to C has 9C^2 weights; and a depthwise one?"),
        *_code_exercises(),
    ]


# ---------------------------------------------------------------------- code: change a branch, then measure
DEPTHWISE_SOLUTION = '''
class MyMFE(MFEBlock):
    def __init__(self, in_channels, atrous_rates, **kwargs):
        super().__init__(in_channels, atrous_rates, **kwargs)
        rate = self.atrous_rates[2]
        self.layer4[0] = nn.Conv2d(in_channels, in_channels, 3, padding=rate, dilation=rate,
                                   groups=in_channels, bias=False)
'''

RATES_SOLUTION = """
answer = MFEBlock(8, atrous_rates=[2, 3, 4])
"""


def _depthwise_layer4(C: int, rates: Sequence[int]) -> MFEBlock:
    """MFEBlock(C, rates) with layer4's dilated conv made depthwise (the answer of the parameter exercise)."""
    block = MFEBlock(C, list(rates))
    rate = block.atrous_rates[2]
    block.layer4[0] = nn.Conv2d(C, C, 3, padding=rate, dilation=rate, groups=C, bias=False)
    return block


def _not_a_class(answer: object, name: str) -> Feedback | None:
    if isinstance(answer, nn.Module):
        return Feedback(False, f"answer 应该是类本身（answer = {name}），不是建好的实例；检查会自己建它。",
                        f"answer should be the class itself (answer = {name}), not a built instance; the check "
                        "builds it.")
    if not (isinstance(answer, type) and issubclass(answer, MFEBlock)):
        return Feedback(False, f"answer 应该是 MFEBlock 的子类，例如 answer = {name}（子类会保留 layer1..layer4、"
                        "SE1..SE4 的名字和级联的 forward）。",
                        f"answer should be a subclass of MFEBlock, e.g. answer = {name} (a subclass keeps the names "
                        "layer1..layer4, SE1..SE4 and the cascaded forward).")
    return None


def _judge_depthwise(answer: object) -> Feedback:
    """Builds the student's class, checks layer4's conv, then measures parameters, output shape and receptive field."""
    wrong = _not_a_class(answer, "MyMFE")
    if wrong is not None:
        return wrong
    C, rates = 8, [2, 4, 8]
    mine, plain = answer(C, rates), MFEBlock(C, rates)
    conv = mine.layer4[0] if isinstance(mine.layer4, nn.Sequential) and len(mine.layer4) > 0 else None
    if not isinstance(conv, nn.Conv2d):
        return Feedback(False, "layer4[0] 应该仍是一个 nn.Conv2d（layer4 = 卷积、BN、ReLU）；只换掉这个卷积。",
                        "layer4[0] should still be an nn.Conv2d (layer4 = conv, BN, ReLU); replace only that conv.")
    if conv.groups == 1:
        return Feedback(False, "layer4 的卷积还是普通卷积：每个输出通道仍然看全部 C 个输入通道。"
                        "哪个参数决定一个输出通道看几个输入通道？",
                        "layer4's conv is still a plain conv: every output channel still sees all C input channels. "
                        "Which argument decides how many input channels one output channel sees?")
    if conv.groups != C or conv.in_channels != C or conv.out_channels != C:
        return Feedback(False, f"depthwise 指每个通道只用自己的 3×3 核：groups 要等于通道数 C（检查用的 C = {C}），"
                        f"现在 groups = {conv.groups}。",
                        f"Depthwise means each channel has its own 3x3 kernel: groups must equal the channel count C "
                        f"(the check uses C = {C}); got groups = {conv.groups}.")
    if conv.dilation != (rates[2], rates[2]):
        return Feedback(False, f"layer4 的空洞率变了：dilation 现在是 {conv.dilation[0]}，"
                        "应该还是 atrous_rates 的第 3 个。",
                        f"layer4's dilation changed: it is {conv.dilation[0]} now, and should still be the third "
                        "atrous rate.")
    if conv.padding != conv.dilation:
        return Feedback(False, f"padding = {conv.padding[0]}、dilation = {conv.dilation[0]}：空洞卷积的 padding 要等于 "
                        "dilation，H×W 才不变，后面的加权和与残差才加得起来。",
                        f"padding = {conv.padding[0]}, dilation = {conv.dilation[0]}: a dilated conv keeps H x W only "
                        "when its padding equals its dilation, which the weighted sum and the residual need.")
    others = [m for name, m in mine.named_modules() if isinstance(m, nn.Conv2d) and name != "layer4.0"]
    if any(m.groups != 1 for m in others):
        return Feedback(False, "只改 layer4：其余的卷积应保持普通卷积。",
                        "Change layer4 only: the other convs stay plain.")
    x = torch.rand(2, C, 16, 16)
    with torch.no_grad():
        out = mine.eval()(x)
    if out.shape != x.shape:
        return Feedback(False, f"输出变成了 {tuple(out.shape)}，不再是 {tuple(x.shape)}：空洞卷积的 padding 要等于 "
                        "dilation，H×W 才不变。",
                        f"The output became {tuple(out.shape)} instead of {tuple(x.shape)}: a dilated conv keeps H x W "
                        "only when its padding equals its dilation.")
    before, after = params(MFEBlock(64, rates)), params(answer(64, rates))
    side, plain_side = _field_side(mine), _field_side(plain)
    return Feedback(True, f"正确！实测：MFEBlock(64, [2, 4, 8]) 的参数量 {before:,} → {after:,}"
                    f"（少了 {before - after:,}）；y3 的感受野边长 {plain_side} → {side}。"
                    "depthwise 省下的是通道之间的混合，不是空间范围。",
                    f"Correct! Measured: MFEBlock(64, [2, 4, 8]) goes from {before:,} to {after:,} parameters "
                    f"({before - after:,} fewer); y3's receptive field side goes from {plain_side} to {side}. "
                    "Depthwise saves the mixing across channels, not the spatial reach.")


_TARGET_SIDE = 21


def _judge_rates(answer: object) -> Feedback:
    """Measures the receptive field of branch y3 of the student's block against the 21 x 21 target."""
    if isinstance(answer, type):
        return Feedback(False, "answer 应该是建好的块，例如 answer = MFEBlock(8, atrous_rates=[…])。",
                        "answer should be a built block, e.g. answer = MFEBlock(8, atrous_rates=[...]).")
    if not isinstance(answer, MFEBlock):
        return Feedback(False, f"answer 应该是一个 MFEBlock；现在是 {type(answer).__name__}。",
                        f"answer should be an MFEBlock; got {type(answer).__name__}.")
    rates = list(answer.atrous_rates)
    if any(b <= a for a, b in zip(rates, rates[1:])):
        return Feedback(False, f"空洞率 {rates} 没有一级比一级大：每个尺度应该比上一个看得更远。",
                        f"The rates {rates} do not grow from stage to stage: each scale should see farther than the "
                        "one before.")
    if sum(rates) > 4 * _TARGET_SIDE:
        return Feedback(False, f"空洞率 {rates} 太大了：y3 会远远超过 21×21。",
                        f"The rates {rates} are far too large: y3 would see far more than 21 x 21.")
    side = _field_side(answer)
    if side == _TARGET_SIDE:
        return Feedback(True, f"正确！实测 y3 的感受野边长是 {side}，正好盖住半径 10 的邻域；再看看 y0..y2 各是多少。",
                        f"Correct! The measured receptive field of y3 is {side} px wide, exactly the radius-10 "
                        "neighbourhood; what are y0..y2's?")
    narrow = side < _TARGET_SIDE
    return Feedback(False, f"实测 y3 的感受野边长是 {side}，{'还不够' if narrow else '超过了'} 21："
                    f"{'加大' if narrow else '减小'}空洞率。每一级的空洞率 r 让感受野加宽多少？",
                    f"The measured receptive field of y3 is {side} px wide, {'short of' if narrow else 'over'} 21: "
                    f"{'raise' if narrow else 'lower'} the rates. By how much does a stage of rate r widen the field?")


def _code_exercises() -> list[CodeExercise]:
    return [
        CodeExercise("mfe",
                     "把 layer4 改成 depthwise：写一个 MFEBlock 的子类 MyMFE(in_channels, atrous_rates)，让 layer4 的"
                     "空洞 3×3 卷积变成 depthwise（groups = in_channels），空洞率和 padding 不变，其余不动。"
                     "检查会建它、测量参数量和 y3 的感受野。",
                     "Make layer4 depthwise: write MyMFE(in_channels, atrous_rates), a subclass of MFEBlock whose "
                     "layer4 dilated 3x3 conv is depthwise (groups = in_channels), with the same dilation and padding "
                     "and everything else unchanged. The check builds it and measures the parameters and y3's "
                     "receptive field.",
                     _judge_depthwise, DEPTHWISE_SOLUTION,
                     "nn.Sequential 可以按下标替换子层，layer4[0] 换成 groups = C 的卷积即可；名字 layer4.0 不变，"
                     "所以其余的权重照样能加载。depthwise 只去掉了通道间的混合（9C² → 9C），"
                     "空间上仍是同一个空洞 3×3 窗口，感受野不变。",
                     "An nn.Sequential lets you replace a layer by index: swap layer4[0] for a conv with groups = C. "
                     "The name layer4.0 stays, so the other weights load as before. Depthwise drops only the mixing "
                     "across channels (9C^2 -> 9C); spatially it is the same dilated 3x3 window, so the receptive "
                     "field does not change."),
        CodeExercise("mfe",
                     "换空洞率：建一个 MFEBlock(8, atrous_rates=[r1, r2, r3])（r1 < r2 < r3），让分支 y3 的感受野"
                     "正好是 21×21——训练 demo 里数半径 10 内的点所需的范围。先算，再让检查去测。",
                     "Change the rates: build an MFEBlock(8, atrous_rates=[r1, r2, r3]) (r1 < r2 < r3) whose branch "
                     "y3 sees exactly 21 x 21, the view the training demo needs to count the dots within radius 10. "
                     "Compute first, then let the check measure.",
                     _judge_rates, RATES_SOLUTION,
                     "y3 的感受野边长 = 3 + 2·(r1 + r2 + r3)：第一级 3×3，之后每级空洞 3×3 两边各加宽 r。"
                     "21 需要 r1 + r2 + r3 = 9，例如 [2, 3, 4] 或 [1, 3, 5]。",
                     "y3's field side = 3 + 2*(r1 + r2 + r3): the first stage is 3x3, and each dilated 3x3 stage "
                     "widens it by r on each side. 21 needs r1 + r2 + r3 = 9, e.g. [2, 3, 4] or [1, 3, 5]."),
    ]
