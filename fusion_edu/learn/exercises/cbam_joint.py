"""Exercises for the CBAM variant: questions with answers computed from the package, checks with hints."""

from __future__ import annotations

import torch

from ...blocks import (
    CBAMBlock,
)
from ...errors import ShapeError
from ..feedback import Choice, Exercise, Hint
from .common import meta_params


def _cbam_size_choice() -> str:
    block = CBAMBlock(16, reduction=1, kernel_size=7, HW=64)
    try:
        block(torch.randn(1, 16, 16, 16))
    except ShapeError:
        return "a"
    except RuntimeError:
        return "c"
    return "b"


def _cbam_outputs_choice() -> str:
    out = CBAMBlock(8, reduction=2, kernel_size=3, HW=16)(torch.randn(1, 8, 4, 4))
    return "a" if isinstance(out, tuple) and len(out) == 2 else "b"


def exercises() -> list[Exercise]:
    """The exercises of the CBAM variant, in order."""
    return [
        Exercise("cbam_joint", "int",
                 "CBAMBlock(channel=64, reduction=8, kernel_size=7, HW=7*7)："
                 "联合 MLP 第一个 1×1 卷积的输入通道数是多少？",
                 "CBAMBlock(channel=64, reduction=8, kernel_size=7, HW=7*7): how many input channels does the joint "
                 "MLP's first 1x1 conv take?",
                 lambda: CBAMBlock(64, reduction=8, kernel_size=7, HW=49).MLP[0].in_channels,
                 "{answer} = C + H·W：通道描述符和摊平后的空间描述符拼在一起。",
                 "{answer} = C + H*W: the channel descriptor and the flattened spatial descriptor, concatenated.",
                 hints=[Hint(64, "还要加上摊平到通道维上的 H·W 个空间值。", "Add the H*W spatial values flattened onto "
                             "the channel axis."),
                        Hint(8, "8 是 MLP 的瓶颈宽度 C/r（第一个卷积的输出）。",
                             "8 is the MLP bottleneck C/r (the first conv's output).")],
                 nudge_zh="联合描述符由两部分拼成。", nudge_en="The joint descriptor has two parts."),
        Exercise("cbam_joint", "int",
                 "在 explorer（explore('cbam_joint')）里把 H = W 从 7 改成 14（C=64, r=8, k=7）。参数量增加了多少？",
                 "In the explorer (explore('cbam_joint')) change H = W from 7 to 14 (C=64, r=8, k=7). By how many "
                 "parameters does the block grow?",
                 lambda: meta_params("cbam_joint", B=1, C=64, H=14, W=14, reduction=8, kernel_size=7)
                 - meta_params("cbam_joint", B=1, C=64, H=7, W=7, reduction=8, kernel_size=7),
                 "{answer} = 2 × (196 − 49) × C/r：每多一个像素，联合 MLP 的两层各多 C/r 个权重。"
                 "参数量随 H·W 线性增长。",
                 "{answer} = 2 x (196 - 49) x C/r: every extra pixel adds C/r weights to each of the joint MLP's two "
                 "layers. The size grows linearly with H*W.",
                 hints=[Hint((196 - 49) * 8, "联合 MLP 有两层，两层都和 H·W 有关。",
                             "The joint MLP has two layers, and both depend on H*W.")],
                 nudge_zh="只有联合 MLP 的大小依赖 H·W。", nudge_en="Only the joint MLP's size depends on H*W."),
        Exercise("cbam_joint", "choice",
                 "CBAMBlock 按 8×8 特征图构建（HW=64），却收到 16×16 的特征图。会怎样？",
                 "A CBAMBlock built for 8x8 feature maps (HW=64) receives a 16x16 map. What happens?",
                 _cbam_size_choice,
                 "({answer})：联合 MLP 的权重绑定了绝对像素位置，换尺寸就对不上；本项目的块会先检查，给出 "
                 "“built for HW=…” 的 ShapeError（笔记的原代码则抛出难懂的卷积通道错误）。",
                 "({answer}): the joint MLP's weights are tied to absolute pixel positions, so another size cannot "
                 "fit; this project's block checks first and raises a ShapeError 'built for HW=...' (the note's "
                 "code fails with a cryptic conv channel error).",
                 choices=[Choice("a", "报错：块是为一个固定的 H·W 构建的", "an error: the block is built for one H*W"),
                          Choice("b", "能运行，空间权重自动缩放", "it runs, and the spatial weights are resized",
                                 "块里没有任何缩放步骤；空间权重直接来自 MLP 的 H·W 个输出。",
                                 "There is no resizing step; the spatial weights come straight from the MLP's H*W "
                                 "outputs."),
                          Choice("c", "能运行，但结果悄悄出错", "it runs, silently wrong",
                                 "拼接后的长度变了，MLP 的第一个卷积根本接不上。",
                                 "The concatenated length changes, so the MLP's first conv cannot accept it.")]),
        Exercise("cbam_joint", "int",
                 "CBAMBlock(channel=64, reduction=8, kernel_size=7, HW=49)：任意输入的空间权重图（sigmoid 之前）"
                 "都是多少张固定“基图”的线性组合？",
                 "CBAMBlock(channel=64, reduction=8, kernel_size=7, HW=49): every spatial weight map (before the "
                 "sigmoid) is a linear combination of how many fixed 'basis images'?",
                 lambda: CBAMBlock(64, reduction=8, kernel_size=7, HW=49).MLP[0].out_channels,
                 "{answer} = C/r：空间 logit 是 MLP 第二层从 C/r 维 ReLU 编码线性映射出来的，所以空间图的秩最多为 C/r。"
                 "demo 里 Sw 看起来模糊，原因之一就在这里。",
                 "{answer} = C/r: the spatial logits are a linear map of the MLP's C/r-wide ReLU code, so the "
                 "spatial map has rank at most C/r. That is one reason the demo's Sw looks blobby.",
                 hints=[Hint(49, "49 是像素数；空间 logit 先经过 MLP 的瓶颈。", "49 is the pixel count; the spatial "
                             "logits pass through the MLP bottleneck first."),
                        Hint(113, "那是联合描述符的长度，不是瓶颈宽度。", "That is the joint descriptor's length, not "
                             "the bottleneck.")],
                 nudge_zh="看 MLP 的瓶颈宽度。", nudge_en="Look at the MLP's bottleneck width."),
        Exercise("cbam_joint", "choice",
                 "标准 CBAM 先做通道门再做空间门（串行），最后输出一个张量。笔记的这个变体呢？",
                 "Standard CBAM applies the channel gate, then the spatial gate (in sequence), and returns one "
                 "tensor. What does the note's variant do?",
                 _cbam_outputs_choice,
                 "({answer})：两个门都从 x 算出，分别乘到 x 上，返回 (out1, out2)，由调用者决定怎么用。",
                 "({answer}): both gates are computed from x, each multiplies x, and the block returns "
                 "(out1, out2); the caller decides how to use them.",
                 choices=[Choice("a", "并行：两个门各乘 x，返回两个输出",
                                 "parallel: each gate multiplies x; it returns two outputs"),
                          Choice("b", "与标准 CBAM 一样串行", "in sequence, like standard CBAM",
                                 "看看 forward 的返回值：有几个张量？",
                                 "Look at what forward returns: how many tensors?"),
                          Choice("c", "只用通道门", "only the channel gate",
                                 "空间权重同样被计算并使用（out2）。",
                                 "The spatial weight is computed and used too (out2).")]),
    ]
