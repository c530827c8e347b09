"""MSF's demo: four noise inputs, only one carries the class; trained with the note's softmax(sigmoid)
and with plain softmax, to show how far each lets the informative input's weight go.

The data (`stripe_inputs`), the model around the block (`MSFNet`), the loss, the read-out of the
scale weights, the two-model runner and the `DEMO` entry of `fusion_edu.learn.DEMOS`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import MSFBlock
from ..errors import value_error
from .demo import Batch, Check, Demo, DemoResult, integers, kept, model_maker, run_pair, uniform

__all__ = ["stripe_inputs", "MSFNet", "DEMO"]


def stripe_inputs(n: int, generator: torch.Generator, channels: int = 8, size: int = 16, informative: int = 2,
                  zero_mean: bool = False) -> Batch:
    """Four noise inputs; only input ``informative`` carries the class (horizontal vs vertical stripes).

    Every input has mean 0.5, so a selector cannot pick the informative one by its brightness:
    it has to learn which input helps the classifier. With ``zero_mean=True`` all inputs are
    shifted to mean 0 (a pitfall: MSF's global average pool then sees ~0 everywhere).

    Shape:
        xs: (4, n, channels, size, size) (unbind on dim 0 for x0..x3); label: (n,), 0 = horizontal
    """
    if informative not in range(4):
        raise value_error("stripe_inputs", "informative must be 0, 1, 2 or 3", {"informative": informative})
    xs = uniform(generator, 4, n, channels, size, size)
    label = integers(generator, 0, 2, n)
    phase = integers(generator, 0, 4, n, 1, 1)
    rows, cols = torch.arange(size).view(1, size, 1), torch.arange(size).view(1, 1, size)
    coord = torch.where(label.view(n, 1, 1) == 0, rows.expand(n, size, size), cols.expand(n, size, size))
    stripes = (((coord + phase) // 2) % 2).float().unsqueeze(1)  # period 4 px, values 0/1, mean 0.5
    xs[informative] = 0.7 * xs[informative] + 0.3 * stripes
    if zero_mean:
        xs = xs - 0.5
    return {"xs": xs, "label": label}


class MSFNet(nn.Module):
    """MSFBlock over four inputs -> 3x3 conv + ReLU -> global average pool -> linear classifier.

    Shape:
        x0..x3: (B, C, H, W); out: (B, 2) logits
    """

    def __init__(self, channels: int = 8, weighting: str = "sigmoid_softmax"):
        super().__init__()
        self.block = MSFBlock(channels, weighting=weighting)
        self.head = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 2))

    def forward(self, x0: Tensor, x1: Tensor, x2: Tensor, x3: Tensor) -> Tensor:
        return self.head(self.block(x0, x1, x2, x3))


def _loss(model: nn.Module, b: Batch) -> Tensor:
    return F.cross_entropy(model(*b["xs"]), b["label"])


def _readout(model: nn.Module, b: Batch, informative: int = 2) -> tuple[dict[str, float], dict[str, Tensor]]:
    tensors, logits = kept(model, *b["xs"])
    weights = tensors["block.weights"][..., 0]  # (n, C, 4)
    per_input = weights.mean(dim=(0, 1))
    others = torch.cat([per_input[:informative], per_input[informative + 1:]])
    metrics = {"w_informative": per_input[informative].item(),
               "w_other": others.mean().item(),
               "accuracy": (logits.argmax(1) == b["label"]).float().mean().item()}
    return metrics, {"weights": per_input, "weights_per_channel": weights.mean(0)}


def _run(demo: Demo, seed: int, steps: int, progress: bool) -> DemoResult:
    """The note's weighting (the main model), then plain softmax (metrics and maps end in ``_softmax``)."""
    variants = {w: {"desc": f"msf ({w})", "weighting": w} for w in ("sigmoid_softmax", "softmax")}
    return run_pair(demo, seed, steps, progress, variants, suffix="softmax")


DEMO = Demo(
    key="msf",
    task_zh="四个噪声输入，只有 x2 带有类别信息（横条纹或竖条纹）。同一任务训练两次：笔记的 softmax(sigmoid) "
            "与去掉 sigmoid 的 plain softmax。",
    task_en="Four noise inputs; only x2 carries the class (horizontal or vertical stripes). The same task is "
            "trained twice: the note's softmax over sigmoid, and plain softmax without the sigmoid.",
    metric="w_informative", threshold=0.38,
    checks=(Check("w_informative", 0.38), Check("w_informative_softmax", 0.7)),
    before_zh="训练前四个权重都 ≈ 0.25。笔记的写法上限是 e/(e+3) ≈ 0.475。",
    before_en="Before training all four weights are ~0.25. The note's version is capped at e/(e+3) ~ 0.475.",
    steps=400, lr=1e-2, batch_size=32, eval_size=256,
    make_model=model_maker(MSFNet), make_batch=stripe_inputs, loss=_loss, readout=_readout, runner=_run)
