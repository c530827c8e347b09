"""Exercises with checks: predict a shape, predict an effect, change a hyperparameter and explain.

Each exercise has a prompt in Chinese and English, ``check(answer)``, which says whether the
answer is right and, if not, in which direction it is wrong (without giving the answer away),
and ``reveal()``, which gives the answer and the reason. Answers are computed from the package
(meta-device traces, the blocks themselves), not typed in.

Example:
    >>> ex = exercise("osra", 1)
    >>> ex.check(5).correct
    False
    >>> ex.check(ex.answer).correct
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..blocks import (
    BLOCKS,
    MSAA,
    SAFM,
    CBAMBlock,
    GatedFusion,
    MFEBlock,
    MSFBlock,
    OSRAttention,
    meta_trace,
    reduced_size,
)
from ..errors import ShapeError, value_error
from ..trace import trace
from .feedback import Choice, Exercise, Hint
from .gated_fusion import sensor_pair

__all__ = ["EXERCISES", "exercise"]


# --------------------------------------------------------------------------- computed answers

def _kept_shape(key: str, name: str, **values: Any) -> tuple[int, ...]:
    rows = [r for r in meta_trace(key, **values).rows if r.key == name]
    return rows[0].shape


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _meta_params(key: str, **values: Any) -> int:
    module, _ = BLOCKS[key].build(device="meta", **values)
    return _params(module)


def _msf_extreme(weighting: str, big: float = 50.0) -> float:
    """The largest weight MSF can give one input: its logit far above the other three."""
    block = MSFBlock(1, weighting=weighting)
    logits = torch.tensor([big, -big, -big, -big]).view(1, 1, 4, 1)
    squashed = block.Sigmoid(logits) if weighting == "sigmoid_softmax" else logits
    return block.softmax(squashed)[0, 0, 0, 0].item()


def _msf_floor() -> float:
    block = MSFBlock(1)
    logits = torch.tensor([-50.0, 50.0, 50.0, 50.0]).view(1, 1, 4, 1)
    return block.softmax(block.Sigmoid(logits))[0, 0, 0, 0].item()


def _msf_zero_mean_choice() -> str:
    """Zero-mean inputs: GAP is 0, the bias-free SE convs give 0, so the weights are exactly 1/4."""
    block = MSFBlock(4).eval()
    xs = [torch.randn(2, 4, 8, 8) for _ in range(4)]
    xs = [x - x.mean(dim=(2, 3), keepdim=True) for x in xs]
    with torch.no_grad():
        weights = trace(block, *xs, keep=True).tensors["weights"]
    return "a" if torch.allclose(weights, torch.full_like(weights, 0.25), atol=1e-6) else "b"


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


def _osra_rows_choice() -> str:
    block = OSRAttention(8, num_heads=2).eval()
    with torch.no_grad():
        attn = trace(block, torch.randn(1, 8, 9, 9), keep=True).tensors["attn"]
    return "a" if torch.allclose(attn.sum(-1), torch.ones(1), atol=1e-5) else "c"


def _osra_attn_mib(side: int, sr_ratio: int, num_heads: int = 8) -> float:
    shape = _kept_shape("osra", "attn", B=1, C=64, H=side, W=side, num_heads=num_heads, sr_ratio=sr_ratio)
    return 4 * math.prod(shape) / 2**20


def _msaa_spatial_input_choice() -> str:
    """Which tensor reaches conv_3x3: compare the hooked tensors."""
    block = MSAA(24, 16).eval()
    seen: dict[str, torch.Tensor] = {}
    fc = block.fusion_conv
    hooks = [fc.down.register_forward_hook(lambda _m, _i, out: seen.__setitem__("down", out)),
             fc.conv_3x3.register_forward_hook(lambda _m, inp, _o: seen.__setitem__("conv_in", inp[0]))]
    try:
        with torch.no_grad():
            block(*[torch.randn(1, 8, 8, 8) for _ in range(3)])
    finally:
        for h in hooks:
            h.remove()
    return "a" if torch.equal(seen["down"], seen["conv_in"]) else "b"


def _msaa_min_out() -> int:
    for out_channels in range(1, 257):
        try:
            MSAA(112, out_channels)
            return out_channels
        except ValueError:
            continue
    raise RuntimeError("no size found")


def _gated_nchw_choice() -> str:
    block = GatedFusion(16)
    x = torch.randn(1, 16, 16, 16)
    try:
        with torch.no_grad():
            block(x, x)
    except (ValueError, RuntimeError):
        return "a"
    return "b"


def _gated_average_mse() -> float:
    batch = sensor_pair(512, torch.Generator().manual_seed(0))
    return round(F.mse_loss((batch["a"] + batch["b"]) / 2, batch["clean"]).item(), 2)


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


# --------------------------------------------------------------------------- the exercises

_TOO_FEW_SIGMOID_ZH = "这是 plain softmax 的上限；别忘了 note 先做了 sigmoid。"
_TOO_FEW_SIGMOID_EN = "That is plain softmax's limit; remember the note applies a sigmoid first."


def _gated() -> list[Exercise]:
    return [
        Exercise("gated_fusion", "shape",
                 "GatedFusion(dim=64) 的两个输入都是 channels-last 的 (2, 16, 16, 64)。门控 z 的形状是什么？",
                 "GatedFusion(dim=64) gets two channels-last inputs of shape (2, 16, 16, 64). What is the shape of "
                 "the gate z?",
                 lambda: _kept_shape("gated_fusion", "z", B=2, C=64, H=16, W=16),
                 "{answer}：z = sigmoid(fc1(x1) + fc2(x2)) 与输入同形状，每个位置、每个通道都有自己的门。",
                 "{answer}: z = sigmoid(fc1(x1) + fc2(x2)) has the input's shape: one gate per position AND channel.",
                 hints=[Hint((2, 16, 16, 1), "z 不只是每个位置一个数：fc1/fc2 输出 C 个通道。",
                             "z is not one number per position: fc1/fc2 output C channels."),
                        Hint((2, 64, 16, 16), "这个块是 channels-last：通道在最后一维。",
                             "This block is channels-last: channels are on the last axis.")],
                 axes=("B", "H", "W", "C")),
        Exercise("gated_fusion", "shape",
                 "在 explorer（explore('gated_fusion')）里把 layout 改成 'nchw'，B=1, C=64, H=W=8。"
                 "trace 中门控 z 那一行的形状是什么？",
                 "In the explorer (explore('gated_fusion')) set layout='nchw', B=1, C=64, H=W=8. What shape does the "
                 "trace show for the gate z?",
                 lambda: _kept_shape("gated_fusion", "z", B=1, C=64, H=8, W=8, layout="nchw"),
                 "{answer}：layout='nchw' 只是在块内部先 permute 成 channels-last，nn.Linear 仍然作用在最后一维，"
                 "出口处再换回 NCHW。",
                 "{answer}: layout='nchw' only permutes to channels-last inside the block; nn.Linear still acts on "
                 "the last axis, and the output is permuted back to NCHW.",
                 hints=[Hint((1, 64, 8, 8), "这是输入和输出的形状；看看块内部在算门之前做了什么。",
                             "That is the input and output shape; look at what the block does before the gate.")],
                 axes=("B", "H", "W", "C")),
        Exercise("gated_fusion", "float",
                 "若门控处处 z = 0.5（训练前差不多就是这样），输出就是 (A+B)/2。在训练 demo 的数据里，"
                 "这个输出与干净信号的均方误差（MSE）大约是多少？（在每个位置，恰好有一个传感器带有标准差 1 的噪声）",
                 "If z = 0.5 everywhere (roughly the untrained state), the output is (A+B)/2. On the training "
                 "demo's data, what is its mean squared error to the clean signal? (At every position exactly one "
                 "sensor carries noise of std 1.)",
                 _gated_average_mse,
                 "≈ {answer}：每个像素只有一个传感器有噪声（方差 1），平均后噪声减半，方差变为 1/4。"
                 "只有按位置选择的门才能把误差降到接近 0。",
                 "~{answer}: at each pixel only one sensor is noisy (variance 1); averaging halves the noise, so "
                 "the variance drops to 1/4. Only a per-position gate can bring it near 0.",
                 hints=[Hint(0.5, "噪声幅度减半，方差要平方：再算一次。",
                             "Halving the noise amplitude squares into the variance: compute again."),
                        Hint(0.0, "平均不能去掉噪声，只能减弱它。",
                             "Averaging weakens the noise but cannot remove it.")],
                 tol=0.03, nudge_zh="噪声 (N/2) 的方差是多少？", nudge_en="What is the variance of N/2?"),
        Exercise("gated_fusion", "choice",
                 "把一个 NCHW 张量 (1, 16, 16, 16) 直接送进 note 的 gatedFusion(16)"
                 "（channels-last，W 恰好等于 C）。会怎样？",
                 "An NCHW tensor (1, 16, 16, 16) goes straight into the note's gatedFusion(16) (channels-last, and W "
                 "happens to equal C). What happens?",
                 _gated_nchw_choice,
                 "({answer})：nn.Linear 只看最后一维的大小，W = C 时它沿 W 混合，不报错，结果却是错的。"
                 "所以本项目提供 layout='nchw'。",
                 "({answer}): nn.Linear only checks the size of the last axis; with W = C it mixes along W without "
                 "an error, and the result is wrong. That is why this project offers layout='nchw'.",
                 choices=[Choice("a", "报错：通道数不对", "an error: wrong channel count",
                                 "最后一维的大小正好是 16，形状检查能通过。", "The last axis happens to be 16, so the "
                                 "shape check passes."),
                          Choice("b", "能运行，但沿 W 轴混合，结果悄悄出错",
                                 "it runs, but mixes along W: silently wrong"),
                          Choice("c", "能运行，结果正确", "it runs and is correct",
                                 "nn.Linear 作用在最后一维，这里最后一维是 W。", "nn.Linear acts on the last axis, "
                                 "which here is W.")]),
    ]


def _msf() -> list[Exercise]:
    return [
        Exercise("msf", "float",
                 "note 的 MSF 先 sigmoid 再在 4 个输入上做 softmax。一个输入最多能拿到多大的权重？（保留 3 位小数）",
                 "The note's MSF applies a sigmoid, then a softmax over the 4 inputs. What is the largest weight "
                 "one input can get? (3 decimals)",
                 lambda: _msf_extreme("sigmoid_softmax"),
                 "{answer} = e/(e+3)：sigmoid 把 logit 压进 (0,1)，softmax 的输入最多相差 1，所以永远选不干净。",
                 "{answer} = e/(e+3): the sigmoid squeezes the logits into (0, 1), so the softmax inputs differ by "
                 "at most 1 and selection can never be sharp.",
                 hints=[Hint(1.0, _TOO_FEW_SIGMOID_ZH, _TOO_FEW_SIGMOID_EN),
                        Hint(0.25, "0.25 是训练前的均匀值，不是上限。",
                             "0.25 is the uniform starting value, not the cap.")],
                 tol=0.003, nudge_zh="sigmoid 之后，4 个 softmax 输入最多相差多少？",
                 nudge_en="After the sigmoid, by how much can the 4 softmax inputs differ at most?"),
        Exercise("msf", "float",
                 "同样的 softmax(sigmoid)：一个输入最少能拿到多大的权重？（保留 3 位小数）",
                 "Same softmax(sigmoid): what is the smallest weight one input can get? (3 decimals)",
                 _msf_floor,
                 "{answer} = 1/(1+3e)：它的 sigmoid 为 0、其余三个为 1 时取到。",
                 "{answer} = 1/(1+3e): reached when its sigmoid is 0 and the other three are 1.",
                 hints=[Hint(0.0, "sigmoid 后 softmax 的输入差不超过 1，权重不可能到 0。",
                             "After the sigmoid the softmax inputs differ by at most 1: no weight can reach 0.")],
                 tol=0.003, nudge_zh="让它的 sigmoid 取 0，其余取 1。",
                 nudge_en="Let its sigmoid be 0 and the others 1."),
        Exercise("msf", "choice",
                 "run_demo('msf') 还会用 MSFBlock(C, weighting='softmax')（去掉 sigmoid）训练同一个任务。"
                 "先预测：训练后有信息输入的权重会怎样？",
                 "run_demo('msf') also trains MSFBlock(C, weighting='softmax') (no sigmoid) on the same task. "
                 "Predict first: what happens to the informative input's weight after training?",
                 lambda: "b" if _msf_extreme("softmax") > 0.99 else "a",
                 "({answer})：没有 sigmoid，logit 可以任意拉开，softmax 能接近 one-hot（demo 中约 0.8–0.96）。",
                 "({answer}): without the sigmoid the logits can spread freely and the softmax can get close to "
                 "one-hot (about 0.8-0.96 in the demo).",
                 choices=[Choice("a", "仍然不超过 0.475", "it still stays below 0.475",
                                 "0.475 的上限来自 sigmoid；去掉它之后上限就没了。",
                                 "The 0.475 cap comes from the sigmoid; without it the cap is gone."),
                          Choice("b", "可以接近 1", "it can approach 1"),
                          Choice("c", "一直停在 0.25", "it stays at exactly 0.25",
                                 "只有输入均值为 0 时才会卡在 0.25；这里输入均值是 0.5。",
                                 "It only sticks at 0.25 for zero-mean inputs; here the inputs have mean 0.5.")]),
        Exercise("msf", "choice",
                 "如果四个输入的每个通道均值都是 0（例如噪声减去 0.5），训练时 MSF 的权重会怎样？",
                 "If every channel of all four inputs has mean 0 (e.g. noise minus 0.5), what do MSF's weights do "
                 "during training?",
                 _msf_zero_mean_choice,
                 "({answer})：全局平均池化得到 0，SE 是无偏置的 1×1 卷积，logit 恒为 0，权重恒为 1/4。"
                 "所以 MSF 只能在均值非零的特征上（例如 ReLU 之后）做选择。",
                 "({answer}): global average pooling gives 0, the SE convs are bias-free 1x1 convs, so every logit "
                 "is 0 and every weight is 1/4. MSF can only select on features with a non-zero mean (e.g. after a "
                 "ReLU).",
                 choices=[Choice("a", "一直停在 0.25", "they stay at exactly 0.25"),
                          Choice("b", "有信息的输入权重上升", "the informative input's weight grows",
                                 "权重只看每个通道的全局平均值；均值为 0 时它看不到任何差别。",
                                 "The weights only see each channel's global mean; with mean 0 they see no"
                                 " difference."),
                          Choice("c", "塌缩到某一个输入", "they collapse onto one input",
                                 "note 的写法本来就有上限 0.475，更何况这里 logit 动不了。",
                                 "The note's version is capped at 0.475 anyway, and here the logits cannot move.")]),
        Exercise("msf", "shape",
                 "MSFBlock(in_channels=3) 的四个输入都是 (4, 3, 2, 2)。trace 里尺度权重（key 'weights'）的形状是什么？",
                 "MSFBlock(in_channels=3) gets four inputs of shape (4, 3, 2, 2). What is the shape of the scale "
                 "weights (trace key 'weights')?",
                 lambda: _kept_shape("msf", "weights", B=4, C=3, H=2, W=2),
                 "{answer}：每个样本、每个通道、每个输入一个权重；最后的 1 是 GAP 剩下的空间维。",
                 "{answer}: one weight per sample, channel and input; the trailing 1 is left over from the pooled "
                 "spatial axes.",
                 hints=[Hint((4, 3, 2, 2), "权重在全局平均池化之后：空间维已经没了。",
                             "The weights come after global average pooling: the spatial axes are gone."),
                        Hint((4, 4, 1, 1), "每个通道都有自己的一组 4 个权重。",
                             "Every channel has its own set of 4 weights.")],
                 axes=("B", "C", "inputs", "1")),
    ]


def _mfe() -> list[Exercise]:
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
                 lambda: sum(_params(getattr(MFEBlock(64, [2, 4, 8]), f"SE{i}")) for i in range(1, 5)),
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


def _safm() -> list[Exercise]:
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


def _osra() -> list[Exercise]:
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
                 lambda: _kept_shape("osra", "attn", B=1, C=64, H=32, W=32, num_heads=8, sr_ratio=2),
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


def _osra_attn_mib_formula(side: int, sr_ratio: int, num_heads: int = 8) -> float:
    cells = reduced_size(side, sr_ratio) ** 2
    return 4 * num_heads * side * side * cells / 2**20


def _msaa() -> list[Exercise]:
    return [
        Exercise("msaa", "int",
                 "MSAA(112, 64)（CM-UNet 的第一个实例）内部的宽度 D（down 之后的通道数）是多少？",
                 "MSAA(112, 64) (CM-UNet's first instance): what is the inner width D (channels after `down`)?",
                 lambda: MSAA(112, 64).fusion_conv.down.out_channels,
                 "{answer} = out_channels // 4：两个门和三个卷积都在这个窄宽度上运行。",
                 "{answer} = out_channels // 4: both gates and the three convs run at this narrow width.",
                 hints=[Hint(112, "down 先把拼接后的通道压下来。", "`down` first reduces the concatenated channels."),
                        Hint(64, "64 是输出通道数；内部更窄。", "64 is the output width; the inside is narrower.")],
                 nudge_zh="D 由 out_channels 和 factor=4 决定。", nudge_en="D depends on out_channels and factor=4."),
        Exercise("msaa", "shape",
                 "MSAA 的三个输入为 (1, 16, 56, 56)、(1, 32, 56, 56)、(1, 64, 56, 56)。空间门 Sa（key "
                 "'spatial_gate'）的形状？",
                 "MSAA gets inputs (1, 16, 56, 56), (1, 32, 56, 56) and (1, 64, 56, 56). What is the shape of the "
                 "spatial gate Sa (key 'spatial_gate')?",
                 lambda: _kept_shape("msaa", "spatial_gate", B=1, C=16, H=56, W=56),
                 "{answer}：每个像素一个门值，对所有通道共用（通道门 Ca 才是每通道一个）。",
                 "{answer}: one gate value per pixel, shared by all channels (the channel gate Ca has one per "
                 "channel).",
                 hints=[Hint((1, 16, 1, 1), "这是通道门 Ca 的形状。", "That is the channel gate Ca's shape."),
                        Hint((1, 16, 56, 56), "空间门在通道上先取均值和最大值，再用 7×7 卷积压成一张图。",
                             "The spatial gate takes the channel mean and max, and a 7x7 conv makes one map.")],
                 axes=("B", "1", "H", "W")),
        Exercise("msaa", "int",
                 "在 explorer（explore('msaa')）里把 out_channels 调小。能构建 MSAA 的最小 out_channels 是多少？",
                 "In the explorer (explore('msaa')) lower out_channels. What is the smallest out_channels for which "
                 "MSAA can be built?",
                 _msaa_min_out,
                 "{answer}：D = out_channels // 4，而通道门 MLP 的隐藏宽度是 D // 4，它至少要为 1。",
                 "{answer}: D = out_channels // 4, and the channel MLP's hidden width D // 4 must be at least 1.",
                 hints=[Hint(4, "D = 1 时通道门 MLP 的隐藏宽度 D//4 = 0。",
                             "With D = 1 the channel MLP's hidden width D//4 is 0.")],
                 nudge_zh="两次整除 4 之后必须至少剩 1。",
                 nudge_en="After two integer divisions by 4, at least 1 must be left."),
        Exercise("msaa", "choice",
                 "MSAA 的多尺度空间路径（3×3、5×5、7×7 卷积）读的是哪个张量？",
                 "Which tensor do MSAA's multi-scale spatial convs (3x3, 5x5, 7x7) read?",
                 _msaa_spatial_input_choice,
                 "({answer})：两条路径并行，都从 down 之后的 F 出发；通道门的结果 Fc 只在最后相加。",
                 "({answer}): the two paths run in parallel from F (after `down`); the channel-gated Fc only joins "
                 "in the final sum.",
                 choices=[Choice("a", "down 之后的 F", "F, after `down`"),
                          Choice("b", "通道门之后的 Fc = F·Ca", "Fc = F * Ca, after the channel gate",
                                 "两条路径是并行的，不是先通道后空间（那是标准 CBAM 的顺序）。",
                                 "The paths are parallel, not channel-then-spatial (that is standard CBAM's order)."),
                          Choice("c", "拼接后、down 之前的特征", "the concatenation, before `down`",
                                 "卷积的输入通道数是 D，不是 in_channels。",
                                 "The convs take D input channels, not in_channels.")]),
        Exercise("msaa", "choice",
                 "把 demo 任务换成普通分割（对掩码做 BCE）：分割结果很好，但 Sa 几乎处处 ≈ 1。最可能的原因？",
                 "Change the demo to plain segmentation (BCE on the mask): it segments well, but Sa is ~1 "
                 "everywhere. Most likely why?",
                 lambda: "a",
                 "({answer})：其他路径（通道路径、卷积和输出头）自己就能分割，门不是必需的；"
                 "只有当任务需要“乘法式的遮罩”（抠图）时，门才会显出形状。",
                 "({answer}): the other paths (channel path, convs, head) can segment on their own, so the gate is "
                 "not needed; it only takes shape when the task needs a multiplicative mask (the cut-out).",
                 choices=[Choice("a", "别的路径自己就能完成分割，门不是必需的",
                                 "the other paths can segment alone; the gate is not needed"),
                          Choice("b", "学习率太大，sigmoid 饱和了", "the learning rate is too high and the sigmoid "
                                 "saturated", "同样的学习率下，抠图任务的 Sa 很清晰。",
                                 "With the same learning rate, the cut-out task gives a crisp Sa."),
                          Choice("c", "MSAA 的代码有 bug", "MSAA's code has a bug",
                                 "同一份代码在抠图任务中学出了清晰的门。",
                                 "The same code learns a crisp gate on the cut-out task.")]),
    ]


def _cbam() -> list[Exercise]:
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
                 lambda: _meta_params("cbam_joint", B=1, C=64, H=14, W=14, reduction=8, kernel_size=7)
                 - _meta_params("cbam_joint", B=1, C=64, H=7, W=7, reduction=8, kernel_size=7),
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
                 "“built for HW=…” 的 ShapeError（note 的原代码则抛出难懂的卷积通道错误）。",
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
                 "标准 CBAM 先做通道门再做空间门（串行），最后输出一个张量。note 的这个变体呢？",
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


def _build() -> dict[str, list[Exercise]]:
    catalog = {"gated_fusion": _gated(), "msf": _msf(), "mfe": _mfe(), "safm": _safm(), "osra": _osra(),
               "msaa": _msaa(), "cbam_joint": _cbam()}
    for items in catalog.values():
        for n, ex in enumerate(items, start=1):
            ex.n = n
    return catalog


EXERCISES: dict[str, list[Exercise]] = _build()


def exercise(key: str, n: int) -> Exercise:
    """Exercise number `n` (from 1) of block `key`."""
    if key not in EXERCISES:
        raise value_error("exercise", f"key must be one of {list(EXERCISES)}", {"key": key})
    items = EXERCISES[key]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(items):
        raise value_error("exercise", f"n must be 1..{len(items)} for {key}", {"n": n})
    return items[n - 1]
