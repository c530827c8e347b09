"""Exercises for the CBAM variant: questions with answers computed from the package, checks with hints, and a
code exercise (an adapter that runs a block built for 7x7 on 14x14 maps, with the block's own weights)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ...blocks import CBAMBlock
from ...errors import ShapeError
from ..feedback import Choice, CodeExercise, Exercise, Feedback, Hint
from .common import meta_params, params

# The code exercise: the note's block (built for 7x7) and the size it must now take.
BUILT, NEW = (7, 7), (14, 14)


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


def _note_block() -> CBAMBlock:
    """The note's example block, seeded."""
    torch.manual_seed(0)
    return CBAMBlock(64, reduction=8, kernel_size=7, HW=BUILT[0] * BUILT[1]).eval()


def _judge_adapter(answer: Any) -> Feedback:
    """Wraps a seeded 7x7 block with the student's adapter and runs it on 14x14 maps."""
    with torch.random.fork_rng(devices=[]):  # the notebook's random numbers stay as they were
        return _check_adapter(answer)


def _check_adapter(answer: Any) -> Feedback:
    if isinstance(answer, nn.Module):
        return Feedback(False, "请交上一个类或函数（answer = Pool7，不带括号）：检查会把一个按 7×7 构建的块交给它。",
                        "Hand in a class or a function (answer = Pool7, no brackets): the check gives it a block "
                        "built for 7x7.")
    if not callable(answer):
        return Feedback(False, "answer 应该是一个类或函数：answer(block) 返回包住 block 的模块。",
                        "answer should be a class or a function: answer(block) returns a module around the block.")
    block = _note_block()
    weights = {k: v.clone() for k, v in block.state_dict().items()}
    seen: list[tuple[int, ...]] = []
    hook = block.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    try:
        module = answer(block)
        if not isinstance(module, nn.Module):
            return Feedback(False, "answer(block) 应该返回一个 nn.Module。",
                            "answer(block) should return an nn.Module.")
        others = [m for m in module.modules() if isinstance(m, CBAMBlock) and m is not block]
        if others:
            return Feedback(False, f"你新建了一个 CBAMBlock（HW={others[0].HW}）：它的权重是新的、没训练过。"
                            "任务是沿用交给你的那个 HW=49 的块。",
                            f"You built a new CBAMBlock (HW={others[0].HW}): its weights are new and untrained. "
                            "The task is to reuse the HW=49 block you were given.")
        x = torch.randn(2, 64, *NEW)
        try:
            with torch.no_grad():
                out = module.eval()(x)
        except ShapeError as e:
            if "CBAMBlock" in str(e):
                return Feedback(False, "块看到的仍然是 14×14（HW=196）：先把 x 缩到 7×7 再交给它。",
                                "The block still sees 14x14 (HW=196): bring x down to 7x7 before it gets it.")
            raise
    finally:
        hook.remove()
    if not seen:
        return Feedback(False, "你的模块没有调用交给它的块：在 forward 里用它。",
                        "Your module never calls the block it was given: use it in forward.")
    if seen[0][-2:] != BUILT:
        return Feedback(False, f"块看到的是 {seen[0][-2]}×{seen[0][-1]}：H·W 凑对了，但像素位置和 7×7 对不上"
                        "（正是 4×16 的陷阱）。请缩放到 7×7。",
                        f"The block saw {seen[0][-2]}x{seen[0][-1]}: H*W adds up, but the pixel positions do not "
                        "match 7x7 (the 4x16 pitfall). Resize to 7x7.")
    if any(not torch.equal(v, block.state_dict()[k]) for k, v in weights.items()):
        return Feedback(False, "块的权重被改了：适配器只能改变输入和输出的尺寸，不能动块本身。",
                        "The block's weights changed: an adapter changes the sizes around the block, not the block.")
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if not outs or not all(isinstance(o, Tensor) for o in outs):
        return Feedback(False, "forward 应该返回张量（一个，或像 CBAMBlock 那样两个）。",
                        "forward should return tensors (one, or two like CBAMBlock).")
    shapes = [tuple(o.shape) for o in outs]
    if any(s[-2:] == BUILT for s in shapes):
        return Feedback(False, "输出还是 7×7：最后要回到输入的 H×W，例如 F.interpolate(..., size=x.shape[-2:])。",
                        "The output is still 7x7: bring it back to the input's H x W, e.g. "
                        "F.interpolate(..., size=x.shape[-2:]).")
    if any(s != tuple(x.shape) for s in shapes):
        return Feedback(False, f"输出形状是 {shapes}；每个输出都应与输入相同：{tuple(x.shape)}。",
                        f"The output shapes are {shapes}; each should match the input, {tuple(x.shape)}.")
    return Feedback(True, f"正确！块在 7×7 上运行，{params(block):,} 个权重原封不动，输出 {tuple(x.shape)}。"
                    "代价：空间权重现在只有 7×7 个格子，放大回去会比较粗。",
                    f"Correct! The block ran at 7x7 with its {params(block):,} weights untouched, output "
                    f"{tuple(x.shape)}. The price: the spatial weight now has only 7x7 cells, coarse once upsampled.")


ADAPTER_SOLUTION = """
from fusion_edu import remix

def adapt(block):                       # pool to 7x7, run, upsample; one output: out1 + out2
    return remix.AtScale(remix.CBAMCombine(block, mode="sum"), size=(7, 7))

# or your own module, keeping both outputs
class Pool7(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        out1, out2 = self.block(F.adaptive_avg_pool2d(x, (7, 7)))
        size = x.shape[-2:]
        return F.interpolate(out1, size=size), F.interpolate(out2, size=size)
"""


def _misplaced_position() -> tuple[int, int]:
    """Where the joint MLP of a block built for 8x8 reads pixel (0, 15) of a 4x16 map: the block's own
    flatten (B, 1, 4, 16) -> (B, 64) and unflatten (B, 64) -> (B, 1, 8, 8), applied to position numbers."""
    numbers = torch.arange(64.0).reshape(1, 1, 4, 16)
    flat = numbers.reshape(1, 64, 1, 1)  # as in CBAMBlock.forward: the spatial descriptor onto channels
    built = flat.reshape(1, 1, 8, 8)  # and back, at the size the weights were trained for
    row, col = (built[0, 0] == numbers[0, 0, 0, 15]).nonzero()[0].tolist()
    return row, col


def exercises() -> list[Exercise | CodeExercise]:
    """The exercises of the CBAM variant, in order (the code exercise is number 6)."""
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
        CodeExercise("cbam_joint",
                     "让 note 的块（CBAMBlock(64, reduction=8, kernel_size=7, HW=49)，按 7×7 构建）在 14×14 的特征图上"
                     "运行，并保留它 HW=49 的权重：写一个适配器（可以用 remix.AtScale，也可以自己写池化模块）。"
                     "answer(block) 要返回一个包住 block 的模块，输出与输入同形状。",
                     "Make the note's block (CBAMBlock(64, reduction=8, kernel_size=7, HW=49), built for 7x7) run on "
                     "14x14 feature maps and keep its HW=49 weights: write an adapter (remix.AtScale, or a pooling "
                     "module of your own). answer(block) returns a module around block whose outputs have the "
                     "input's shape.",
                     _judge_adapter, ADAPTER_SOLUTION,
                     "先池化到块构建时的 7×7，运行块，再插值回输入的 H×W：这正是笔记的建议（先降维再送进来，"
                     "出来后恢复形状）。块的权重一个没变，state_dict 照样能存能装；代价是空间权重只有 7×7 的分辨率。",
                     "Pool to the 7x7 the block was built for, run the block, interpolate back to the input's "
                     "H x W: the note's own advice (reduce first, restore the shape afterwards). Not one weight "
                     "changes, so the state_dict saves and loads as before; the price is a spatial weight with only "
                     "7x7 resolution."),
        Exercise("cbam_joint", "sizes",
                 "一个按 8×8 构建的 CBAMBlock（HW=64）收到 4×16 的特征图，没有报错。4×16 图上第 0 行、第 15 列的像素，"
                 "联合 MLP 用的是 8×8 网格上哪个位置学到的权重？回答 [行, 列]。",
                 "A CBAMBlock built for 8x8 (HW=64) receives a 4x16 feature map and raises nothing. For the pixel in "
                 "row 0, column 15 of the 4x16 map, the joint MLP uses the weights learned for which position of the "
                 "8x8 grid? Answer [row, col].",
                 _misplaced_position,
                 "{answer}：空间描述按行摊平成 64 个数，第 0 行第 15 列是第 15 个；按 8×8 还原时，第 15 个数落在"
                 "第 1 行第 7 列。联合 MLP 只认序号，不认位置，所以 4×16 的图被当成 8×8 读。",
                 "{answer}: the spatial descriptor is flattened row by row into 64 numbers; row 0, column 15 is "
                 "number 15, and read back as 8x8, number 15 sits in row 1, column 7. The joint MLP knows the "
                 "numbers, not the positions, so the 4x16 map is read as if it were 8x8.",
                 hints=[Hint([0, 15], "8×8 网格没有第 15 列：MLP 只看摊平后的序号。",
                             "The 8x8 grid has no column 15: the MLP only sees the flattened number."),
                        Hint([0, 7], "摊平是按行的：8×8 网格的每一行只放得下 8 个数。",
                             "The flattening goes row by row: each row of the 8x8 grid holds only 8 numbers."),
                        Hint([7, 1], "PyTorch 的 reshape 按行（最后一维最快），不是按列。",
                             "PyTorch's reshape goes row by row (the last axis fastest), not column by column.")],
                 axes=("row", "col"), nudge_zh="先算出它在摊平后的序号，再按每行 8 个放回去。",
                 nudge_en="First find its number after flattening, then put it back at 8 per row."),
    ]
