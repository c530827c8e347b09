"""Exercises for MFE: questions with answers computed from the package, checks with hints."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ...blocks import (
    MFEBlock,
)
from ..feedback import Choice, Exercise, Hint
from .common import params


def _mfe_receptive_field(rates: Sequence[int], branch: int = 3) -> int:
    """Width of the input region that reaches one output pixel of branch y_i (autograd, all-positive weights)."""
    block = MFEBlock(1, list(rates)).eval()
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0)
    layer = (block.layer1, block.layer2, block.layer3, block.layer4)[branch]
    seen: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
    size = 4 * (1 + 2 * sum(rates)) + 1
    x = torch.ones(1, 1, size, size, requires_grad=True)
    try:
        block(x)
    finally:
        handle.remove()
    seen[0][0, 0, size // 2, size // 2].backward()
    cols = (x.grad[0, 0].abs().sum(0) > 0).nonzero()
    return int(cols.max() - cols.min() + 1)


def exercises() -> list[Exercise]:
    """The exercises of MFE, in order."""
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
                 hints=[Hint(16640, "note 里的 SE 卷积没有偏置。", "The note's SE convs have no bias."),
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
    ]
