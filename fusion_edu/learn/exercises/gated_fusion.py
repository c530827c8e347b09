"""Exercises for Gated fusion: questions with answers computed from the package, checks with hints."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...blocks import (
    GatedFusion,
)
from ..feedback import Choice, Exercise, Hint
from ..gated_fusion import sensor_pair
from .common import kept_shape


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


def exercises() -> list[Exercise]:
    """The exercises of Gated fusion, in order."""
    return [
        Exercise("gated_fusion", "shape",
                 "GatedFusion(dim=64) 的两个输入都是 channels-last 的 (2, 16, 16, 64)。门控 z 的形状是什么？",
                 "GatedFusion(dim=64) gets two channels-last inputs of shape (2, 16, 16, 64). What is the shape of "
                 "the gate z?",
                 lambda: kept_shape("gated_fusion", "z", B=2, C=64, H=16, W=16),
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
                 lambda: kept_shape("gated_fusion", "z", B=1, C=64, H=8, W=8, layout="nchw"),
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
