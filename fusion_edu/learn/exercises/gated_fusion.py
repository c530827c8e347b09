"""Exercises for Gated fusion: questions with answers computed from the package, checks with hints.

Two are answered with code (`CodeExercise`): an adapter that lets the note's channels-last block take
NCHW tensors (judged on an input whose W equals C, where a missing permute runs silently), and a
function that folds the note's two gate biases into GMAN's one (judged by comparing outputs).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...blocks import GatedFusion
from ..feedback import Choice, CodeExercise, Exercise, Feedback, Hint
from ..gated_fusion import sensor_pair
from .common import kept_shape, params


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


# --------------------------------------------------------------------------- code exercise: an NCHW adapter

ADAPTER_SOLUTION = """
class MyNCHWGate(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fuse = GatedFusion(dim)  # the note's block: channels-last

    def forward(self, x1, x2):
        to_last = (0, 2, 3, 1)  # (B, C, H, W) -> (B, H, W, C)
        out = self.fuse(x1.permute(*to_last), x2.permute(*to_last))
        return out.permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)
"""


def _seeded(seed: int, build: Callable[[], Any]) -> Any:
    """`build()` under its own seed, leaving the caller's random state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _own_random_state(judge: Callable[[Any], Feedback]) -> Callable[[Any], Feedback]:
    """The judge (and the student's code it runs) draws from its own seeded random state, not the notebook's."""
    @functools.wraps(judge)
    def run(answer: Any) -> Feedback:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return judge(answer)
    return run


def _pair(seed: int, *shape: int) -> tuple[Tensor, Tensor]:
    """Two seeded random tensors of `shape` (the caller's random state untouched)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)


def _wrong(zh: str, en: str) -> Feedback:
    return Feedback(False, zh, en)


def _inner_gate(model: nn.Module) -> GatedFusion | None:
    return next((m for m in model.modules() if isinstance(m, GatedFusion)), None)


def _changed_pixels(run: Callable[[Tensor, Tensor], Tensor], x1: Tensor, x2: Tensor) -> int:
    """How many output pixels change when one input pixel (all its channels) of x1 changes."""
    poked = x1.clone()
    poked[0, :, 2, 3] += 1.0
    diff = (run(poked, x2) - run(x1, x2)).abs()
    return int((diff.amax(dim=1)[0] > 1e-6).sum()) if diff.ndim == 4 else -1


@_own_random_state
def judge_adapter(answer: Any) -> Feedback:
    """Checks an NCHW adapter around the channels-last GatedFusion by running it (W == C and W != C)."""
    if isinstance(answer, nn.Module):
        model = answer
    elif callable(answer):
        model = _seeded(0, lambda: answer(8))
        if not isinstance(model, nn.Module):
            return _wrong("answer(8) 应该得到一个 nn.Module（你的适配器类）。",
                          "answer(8) must build an nn.Module (your adapter class).")
    else:
        return _wrong("answer 应该是你的类本身：answer = MyNCHWGate（不带括号）。",
                      "answer must be your class itself: answer = MyNCHWGate (no parentheses).")
    gate = _inner_gate(model)
    if gate is None:
        return _wrong("里面要有笔记里的块：在 __init__ 里建一个 GatedFusion(dim)。",
                      "Put the note's block inside: build a GatedFusion(dim) in __init__.")
    if gate.layout != "channels_last":
        return _wrong("layout='nchw' 是现成的捷径，这里正是要你自己实现它：用默认的 channels-last 块。",
                      "layout='nchw' is the ready-made shortcut you are rebuilding here: use the default "
                      "channels-last block.")
    C = gate.dim
    reference = GatedFusion(C, layout="nchw")
    reference.load_state_dict(gate.state_dict())
    model.eval()
    for H in (5, 6):  # W == C first: the case where forgetting to permute runs without an error
        W = C if H == 5 else C + 3
        x1, x2 = _pair(H, 2, C, H, W)
        with torch.no_grad():
            out = model(x1, x2)
            if not isinstance(out, Tensor):
                return _wrong(f"forward 应该返回一个张量，实际返回了 {type(out).__name__}。",
                              f"forward must return a tensor; it returned {type(out).__name__}.")
            shape = tuple(out.shape)
            if shape == (2, H, W, C) and shape != (2, C, H, W):
                return _wrong(f"输出是 {shape}，还是 channels-last：融合之后要把通道换回第 1 维。",
                              f"The output {shape} is still channels-last: after fusing, move the channels back "
                              "to dim 1.")
            if shape == (2, C, W, H) and H != W:
                return _wrong(f"输出是 {shape}：H 和 W 对调了。换回来的 permute 要正好撤销第一次的 permute。",
                              f"The output {shape} has H and W swapped: the permute back must undo the first one.")
            if shape != (2, C, H, W):
                return _wrong(f"输入是 {(2, C, H, W)}，输出应该同形状；实际是 {shape}。",
                              f"The input is {(2, C, H, W)} and the output must have its shape; got {shape}.")
            if not torch.allclose(out, reference(x1, x2), atol=1e-5):
                spread = _changed_pixels(model, x1, x2)
                if spread > 1:
                    return _wrong(f"输入 {(2, C, H, W)} 能运行、形状也对，但只改 x1 的一个像素，"
                                  f"输出变了 {spread} 个像素：线性层在沿空间轴混合。nn.Linear 作用在最后一维，"
                                  "你的最后一维是什么？",
                                  f"Input {(2, C, H, W)} runs and the shape is right, but changing one pixel of x1 "
                                  f"changes {spread} output pixels: the linear layers mix along a spatial axis. "
                                  "nn.Linear acts on the last axis; what is your last axis?")
                return _wrong("形状对了，但结果与同一组权重下的 z·x1 + (1−z)·x2 不同：检查两路输入是否都换了布局、"
                              "顺序是否一致。",
                              "The shape is right, but the result differs from z*x1 + (1-z)*x2 with the same "
                              "weights: check that both inputs are rearranged, in the same way.")
    return Feedback(True, "正确！W == C 和 W ≠ C 的 NCHW 输入都逐像素融合，与 layout='nchw' 完全一致。"
                    "想看一种写法，运行 ex.reveal()。",
                    "Correct! NCHW inputs with W == C and W != C are fused pixel by pixel, exactly as with "
                    "layout='nchw'. Run ex.reveal() to see one way to write it.")


# --------------------------------------------------------------------------- code exercise: one gate bias

ONE_BIAS_SOLUTION = """
def one_bias(block):
    new = GatedFusion(block.dim)
    new.fc1 = nn.Linear(block.dim, block.dim, bias=False)  # GMAN's XS: no bias
    with torch.no_grad():
        new.fc1.weight.copy_(block.fc1.weight)
        new.fc2.weight.copy_(block.fc2.weight)
        new.fc2.bias.copy_(block.fc1.bias + block.fc2.bias)  # b1 joins b2
    return new
"""


@_own_random_state
def judge_one_bias(answer: Any) -> Feedback:
    """Checks ``one_bias(block)``: a new block with no fc1 bias, C fewer parameters, the same outputs."""
    if not callable(answer) or isinstance(answer, nn.Module):
        return _wrong("answer 应该是你的函数本身：answer = one_bias（不带括号）。",
                      "answer must be your function itself: answer = one_bias (no parentheses).")
    C = 16
    block = _seeded(1, lambda: GatedFusion(C))
    before = {k: v.clone() for k, v in block.state_dict().items()}
    x1, x2 = _pair(2, 2, 4, 5, C)
    with torch.no_grad():
        expected = block(x1, x2)
    new = answer(block)
    if not isinstance(new, nn.Module):
        return _wrong(f"one_bias 应该返回一个新模块（例如 GatedFusion），实际返回了 {type(new).__name__}。",
                      f"one_bias must return a new module (e.g. a GatedFusion); it returned {type(new).__name__}.")
    now = block.state_dict()
    if new is block or set(now) != set(before) or any(not torch.equal(v, now[k]) for k, v in before.items()):
        return _wrong("你的函数改动了传进来的块：请建一个新块，原块保持不变。",
                      "Your function changed the block it was given: build a new block and leave the original as "
                      "it was.")
    with torch.no_grad():
        out = new(x1, x2)
    if not isinstance(out, Tensor) or out.shape != expected.shape:
        return _wrong("新块的输出形状与原块不同。", "The new block's output shape differs from the original's.")
    fc1 = getattr(new, "fc1", None)
    if isinstance(fc1, nn.Linear) and not torch.equal(fc1.weight, block.fc1.weight):
        return _wrong("新块 fc1 的权重不是原块的：偏置之外的参数都要原样复制。",
                      "The new fc1's weight is not the original's: every parameter except the biases must be "
                      "copied as it is.")
    fc2 = getattr(new, "fc2", None)
    if isinstance(fc2, nn.Linear) and not torch.equal(fc2.weight, block.fc2.weight):
        return _wrong("新块 fc2 的权重不是原块的：偏置之外的参数都要原样复制。",
                      "The new fc2's weight is not the original's: every parameter except the biases must be "
                      "copied as it is.")
    if not torch.allclose(out, expected, atol=1e-5):
        return _wrong("权重对了，输出却不同：去掉 fc1 的偏置后，它在门里的作用还要有人接替。"
                      "看看 z = σ(fc1(x1) + fc2(x2)) 里两个偏置是怎么出现的。",
                      "The weights match but the outputs do not: once fc1's bias is gone, something must take over "
                      "its part in the gate. Look at how the two biases enter z = sigmoid(fc1(x1) + fc2(x2)).")
    if params(new) != params(block) - C:
        return _wrong(f"输出一致，但新块有 {params(new)} 个参数，应该比原块（{params(block)}）少 C = {C} 个："
                      "fc1 的偏置要真正去掉（bias=False），清零不算。",
                      f"The outputs agree, but the new block has {params(new)} parameters; it should have C = {C} "
                      f"fewer than the original ({params(block)}): remove fc1's bias (bias=False), zeroing it is "
                      "not enough.")
    return Feedback(True, "正确！少了 C 个参数，输出完全相同：笔记里的两个偏置与 GMAN 的一个偏置等价。"
                    "想看一种写法，运行 ex.reveal()。",
                    "Correct! C fewer parameters and the same outputs: the note's two biases are equivalent to "
                    "GMAN's one. Run ex.reveal() to see one way to write it.")


def exercises() -> list[Exercise | CodeExercise]:
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
                 "把一个 NCHW 张量 (1, 16, 16, 16) 直接送进笔记里的 gatedFusion(16)"
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
        CodeExercise("gated_fusion",
                     "写一个适配器，让笔记里 channels-last 的门控融合直接接收 NCHW 张量：类 MyNCHWGate(nn.Module)，"
                     "__init__(self, dim) 里建 self.fuse = GatedFusion(dim)（默认的 channels-last，不用 "
                     "layout='nchw'），forward(self, x1, x2) 接收两个 (B, C, H, W)，返回 (B, C, H, W)。"
                     "检查会在 W == C 的输入上运行它，并只改动一个像素，看输出有几个像素跟着变。",
                     "Write an adapter that lets the note's channels-last gated fusion take NCHW tensors: a class "
                     "MyNCHWGate(nn.Module) whose __init__(self, dim) builds self.fuse = GatedFusion(dim) (the "
                     "default channels-last block, not layout='nchw') and whose forward(self, x1, x2) takes two "
                     "(B, C, H, W) tensors and returns (B, C, H, W). The check runs it on an input whose W equals C "
                     "and changes a single pixel to see how many output pixels follow.",
                     judge_adapter, ADAPTER_SOLUTION,
                     "nn.Linear 只作用在最后一维，所以先把通道移到最后（permute(0, 2, 3, 1)），融合，再用逆排列 "
                     "permute(0, 3, 1, 2) 换回来。layout='nchw' 在块内部做的就是这两步。",
                     "nn.Linear acts on the last axis only, so move the channels last (permute(0, 2, 3, 1)), fuse, "
                     "and undo it with the inverse permutation permute(0, 3, 1, 2). That is what layout='nchw' does "
                     "inside the block."),
        CodeExercise("gated_fusion",
                     "GMAN 的门只有一个偏置 b_z，笔记里的 fc1、fc2 各有一个。写一个函数 one_bias(block)：接收一个 "
                     "GatedFusion，返回一个新块，它的 fc1 没有偏置（像 GMAN 那样，参数少 C 个），"
                     "而对任何输入的输出都和原块相同。原块不能被改动。",
                     "GMAN's gate has one bias b_z; the note gives fc1 and fc2 one each. Write a function "
                     "one_bias(block) that takes a GatedFusion and returns a new block whose fc1 has no bias (as in "
                     "GMAN, C parameters fewer) and whose output equals the original's for every input. The original "
                     "block must stay unchanged.",
                     judge_one_bias, ONE_BIAS_SOLUTION,
                     "z = σ(W1·x1 + b1 + W2·x2 + b2)：两个偏置只以和 b1 + b2 的形式出现，所以把 b1 并进 fc2 的偏置，"
                     "输出不变。笔记的写法只是多了 C 个冗余参数。",
                     "z = sigmoid(W1 x1 + b1 + W2 x2 + b2): the biases only ever appear as the sum b1 + b2, so "
                     "moving b1 into fc2's bias leaves the output unchanged. The note just carries C redundant "
                     "parameters."),
    ]
