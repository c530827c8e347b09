"""Exercises for MSF: questions with answers computed from the package, checks with hints."""

from __future__ import annotations

import torch

from ...blocks import (
    MSFBlock,
)
from ...trace import trace
from ..feedback import Choice, Exercise, Hint
from .common import kept_shape


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


_TOO_FEW_SIGMOID_ZH = "这是 plain softmax 的上限；别忘了 note 先做了 sigmoid。"


_TOO_FEW_SIGMOID_EN = "That is plain softmax's limit; remember the note applies a sigmoid first."


def exercises() -> list[Exercise]:
    """The exercises of MSF, in order."""
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
                 lambda: kept_shape("msf", "weights", B=4, C=3, H=2, W=2),
                 "{answer}：每个样本、每个通道、每个输入一个权重；最后的 1 是 GAP 剩下的空间维。",
                 "{answer}: one weight per sample, channel and input; the trailing 1 is left over from the pooled "
                 "spatial axes.",
                 hints=[Hint((4, 3, 2, 2), "权重在全局平均池化之后：空间维已经没了。",
                             "The weights come after global average pooling: the spatial axes are gone."),
                        Hint((4, 4, 1, 1), "每个通道都有自己的一组 4 个权重。",
                             "Every channel has its own set of 4 weights.")],
                 axes=("B", "C", "inputs", "1")),
    ]
