"""Exercises for MSF: questions with answers computed from the package, checks with hints."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...blocks import MSFBlock
from ...trace import trace
from ..feedback import Choice, CodeExercise, Exercise, Feedback, Hint
from .common import kept_shape


def _msf_extreme(weighting: str, big: float = 50.0) -> float:
    """The largest weight MSF can give one input: its logit far above the other three."""
    block = MSFBlock(1, weighting=weighting)
    logits = torch.tensor([big, -big, -big, -big]).view(1, 1, 4, 1)
    squashed = block.Sigmoid(logits) if weighting == "sigmoid_softmax" else logits
    return block.softmax(squashed)[0, 0, 0, 0].item()


def _msf_cap(n: int, big: float = 50.0) -> float:
    """The largest weight the note's softmax(sigmoid) gives one of `n` scales, measured with the block's own layers."""
    block = MSFBlock(1)
    logits = torch.full((1, 1, n, 1), -big)
    logits[0, 0, 0, 0] = big
    return block.softmax(block.Sigmoid(logits))[0, 0, 0, 0].item()


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


_TOO_FEW_SIGMOID_ZH = "这是 plain softmax 的上限；别忘了笔记里先做了 sigmoid。"


_TOO_FEW_SIGMOID_EN = "That is plain softmax's limit; remember the note applies a sigmoid first."


def exercises() -> list[Exercise | CodeExercise]:
    """The exercises of MSF, in order (new ones go at the end: notebooks and tests use the numbers)."""
    return [
        Exercise("msf", "float",
                 "笔记里的 MSF 先 sigmoid，再在 4 个尺度上做 softmax。一个尺度最多能拿到多大的权重？（保留 3 位小数）",
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
                                 "笔记的写法本来就有上限 0.475，更何况这里 logit 动不了。",
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
        Exercise("msf", "float",
                 "把 MSF 改成只融合 3 个尺度（SE1..SE3，仍是先 sigmoid 再 softmax）。一个尺度最多能拿到多大的权重？"
                 "（保留 3 位小数）",
                 "Cut MSF down to 3 scales (SE1..SE3, still a sigmoid, then a softmax). What is the largest weight "
                 "one scale can get? (3 decimals)",
                 lambda: _msf_cap(3),
                 "{answer} = e/(e+2)：胜者的 sigmoid 取 1、其余两个取 0，softmax 给出 e¹ 比 2 个 e⁰。"
                 "一般地，n 个尺度时上限是 e/(e+n−1)：尺度越少，上限越高，但永远到不了 1。",
                 "{answer} = e/(e+2): the winner's sigmoid is 1 and the other two are 0, so the softmax weighs e^1 "
                 "against 2 times e^0. In general, with n scales the cap is e/(e+n-1): fewer scales, a higher cap, "
                 "but never 1.",
                 hints=[Hint(0.475, "那是 4 个尺度时的上限；这里只和 2 个对手比。",
                             "That is the cap for 4 scales; here the winner faces only 2 others."),
                        Hint(0.731, "那是 2 个尺度时的上限；这里有 3 个。",
                             "That is the cap for 2 scales; here there are 3."),
                        Hint(1.0, _TOO_FEW_SIGMOID_ZH, _TOO_FEW_SIGMOID_EN)],
                 tol=0.003, nudge_zh="胜者的 sigmoid 取 1，另外两个取 0。",
                 nudge_en="Let the winner's sigmoid be 1 and the other two 0."),
        *_code_exercises(),
    ]


# ---------------------------------------------------------------------- code: the plain-softmax MSF
_C, _B, _SIDE = 6, 3, 5

PLAIN_MSF_SOLUTION = '''
class MyMSF(MSFBlock):
    def forward(self, x0, x1, x2, x3):
        xs = (x0, x1, x2, x3)
        ses = (self.SE1, self.SE2, self.SE3, self.SE4)
        logits = torch.cat([se(self.gap(x)) for se, x in zip(ses, xs)], dim=2)  # (B, C, 4, 1)
        weight = self.softmax(logits)  # no sigmoid: the softmax compares the raw logits
        fused = sum(torch.unsqueeze(weight[:, :, i], 2) * x for i, x in enumerate(xs))
        return self.project(fused)
'''


def _plain_reference() -> tuple[MSFBlock, list[Tensor]]:
    """MSFBlock(weighting='softmax') in eval mode with seeded weights, and four inputs whose channel means differ."""
    g = torch.Generator().manual_seed(0)
    block = MSFBlock(_C, weighting="softmax").eval()
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    xs = [(1 + i) * torch.rand(_B, _C, _SIDE, _SIDE, generator=g) for i in range(4)]
    return block, xs


def _plain_variants(block: MSFBlock, xs: list[Tensor]) -> dict[str, Tensor]:
    """The right output and the outputs of typical mistakes, computed with the reference block's own layers."""
    ses = (block.SE1, block.SE2, block.SE3, block.SE4)
    logits = torch.cat([se(block.gap(x)) for se, x in zip(ses, xs)], dim=2)
    one_se = torch.cat([block.SE1(block.gap(x)) for x in xs], dim=2)

    def fuse(weight: Tensor) -> Tensor:
        return sum(torch.unsqueeze(weight[:, :, i], 2) * x for i, x in enumerate(xs))

    plain = torch.softmax(logits, dim=2)
    return {"right": block.project(fuse(plain)),
            "sigmoid": block.project(fuse(torch.softmax(torch.sigmoid(logits), dim=2))),
            "no_softmax": block.project(fuse(torch.sigmoid(logits))),
            "logits": block.project(fuse(logits)),
            "channels": block.project(fuse(torch.softmax(logits, dim=1))),
            "one_se": block.project(fuse(torch.softmax(one_se, dim=2))),
            "no_project": fuse(plain),
            "residual": block.project(fuse(plain) + xs[0])}


_PLAIN_HINTS = {
    "sigmoid": ("输出和笔记的 softmax(sigmoid) 一模一样：sigmoid 那一步还在。",
                "The output equals the note's softmax(sigmoid): the sigmoid step is still there."),
    "no_softmax": ("softmax 不见了、sigmoid 还在：正好反了。只去掉 sigmoid，4 个尺度的权重仍要经过 softmax、和为 1。",
                   "The softmax went and the sigmoid stayed: the wrong way round. Drop only the sigmoid; the 4 "
                   "weights must still pass the softmax and sum to 1."),
    "logits": ("权重没有经过 softmax：SE 的输出直接乘到了输入上。", "The weights skip the softmax: the SE outputs "
               "multiply the inputs directly."),
    "channels": ("softmax 作用错了维度：它应该在 4 个尺度之间比较（每个通道的 4 个权重和为 1），而不是在通道之间。",
                 "The softmax runs over the wrong axis: it must compare the 4 scales (each channel's 4 weights sum "
                 "to 1), not the channels."),
    "one_se": ("每个尺度都用了 SE1：尺度 i 要用它自己的 SE_i。", "Every scale went through SE1: scale i needs its own "
               "SE_i."),
    "no_project": ("加权和算对了，但最后还要经过 project（1×1 卷积 + BN + ReLU）。",
                   "The weighted sum is right, but project (1x1 conv + BN + ReLU) must still follow."),
    "residual": ("多加了一个残差：MSF 是 project(加权和)，没有 + x。", "There is an extra residual: MSF is "
                 "project(weighted sum), without + x."),
}


def _not_a_class(answer: object) -> Feedback | None:
    if isinstance(answer, nn.Module):
        return Feedback(False, "answer 应该是类本身（answer = MyMSF），不是建好的实例；检查会自己用不同的 C 建它。",
                        "answer should be the class itself (answer = MyMSF), not a built instance; the check builds "
                        "it with its own C.")
    if not (isinstance(answer, type) and issubclass(answer, nn.Module)):
        return Feedback(False, f"answer 应该是一个 nn.Module 的子类，例如 answer = MyMSF；"
                        f"现在是 {type(answer).__name__}。",
                        f"answer should be an nn.Module subclass, e.g. answer = MyMSF; got {type(answer).__name__}.")
    return None


def _judge_plain_msf(answer: object) -> Feedback:
    """Builds the student's class, loads MSFBlock(weighting='softmax')'s state_dict into it, compares outputs."""
    wrong = _not_a_class(answer)
    if wrong is not None:
        return wrong
    reference, xs = _plain_reference()
    mine = answer(_C)
    if getattr(mine, "weighting", "sigmoid_softmax") != "sigmoid_softmax" or answer.forward is MSFBlock.forward:
        return Feedback(False, "MyMSF 还在用现成的 forward（或 weighting 开关）。这道题要你自己写 forward，"
                        "亲手把 sigmoid 那一步拿掉。",
                        "MyMSF still uses the ready-made forward (or the weighting switch). Write forward yourself and "
                        "take the sigmoid step out by hand.")
    try:
        missing, unexpected = mine.load_state_dict(reference.state_dict(), strict=False)
    except RuntimeError as e:
        return Feedback(False, f"state_dict 加载失败（形状不同）：{str(e).splitlines()[-1].strip()}",
                        f"The state_dict does not load (a shape differs): {str(e).splitlines()[-1].strip()}")
    if missing or unexpected:
        return Feedback(False, f"state_dict 的键和 MSFBlock 对不上：MyMSF 多出 {list(missing)[:3]}，"
                        f"缺少 {list(unexpected)[:3]}。沿用 MSFBlock 的子模块（SE1..SE4、project），"
                        "不要新增带参数的层。",
                        f"The state_dict keys differ from MSFBlock's: MyMSF has extra {list(missing)[:3]} and lacks "
                        f"{list(unexpected)[:3]}. Keep MSFBlock's submodules (SE1..SE4, project) and add no layers "
                        "with parameters.")
    mine.eval()
    with torch.no_grad():
        out = mine(*xs)
        variants = _plain_variants(reference, xs)
    right = variants.pop("right")
    if not isinstance(out, Tensor):
        return Feedback(False, f"forward 应该返回一个张量；现在返回 {type(out).__name__}。",
                        f"forward should return one tensor; it returns {type(out).__name__}.")
    if out.shape != right.shape:
        return Feedback(False, f"输出形状是 {tuple(out.shape)}，应该和输入一样是 (B, C, H, W) = {tuple(right.shape)}。",
                        f"The output shape is {tuple(out.shape)}; it should match the inputs, (B, C, H, W) = "
                        f"{tuple(right.shape)}.")
    gap = (out - right).abs().max().item()
    if gap < 1e-5:
        return Feedback(True, f"正确！MyMSF 加载了 MSFBlock(weighting='softmax') 的 state_dict，输出逐元素相同"
                        f"（最大差 {gap:.1e}）。想看一种写法，运行 ex.reveal()。",
                        f"Correct! MyMSF loads MSFBlock(weighting='softmax')'s state_dict and gives the same output, "
                        f"element by element (largest difference {gap:.1e}). Run ex.reveal() for one way to write it.")
    for name, other in variants.items():
        if other.shape == out.shape and (out - other).abs().max().item() < 1e-5:
            return Feedback(False, *_PLAIN_HINTS[name])
    return Feedback(False, f"state_dict 加载成功，但输出不同（最大差 {gap:.3g}）。对照 trace 一步步检查："
                    "GAP → SE_i → 在第 2 维拼接 → softmax → 取出每个尺度的权重、乘到对应输入上相加 → project。",
                    f"The state_dict loads, but the output differs (largest difference {gap:.3g}). Check it step by "
                    "step against the trace: GAP -> SE_i -> concatenate on dim 2 -> softmax -> each scale's weight "
                    "times its input, summed -> project.")


def _code_exercises() -> list[CodeExercise]:
    return [
        CodeExercise("msf",
                     "把笔记的 MSF 改成 plain softmax：写一个 MSFBlock 的子类 MyMSF，自己写 forward，去掉 sigmoid，"
                     "直接对 4 个尺度的 logit 做 softmax（不要用 weighting 开关）。检查会建 MyMSF(C)，加载 "
                     "MSFBlock(C, weighting='softmax') 的 state_dict（strict），再比较两者的输出。",
                     "Turn the note's MSF into plain softmax: write MyMSF, a subclass of MSFBlock with its own forward "
                     "that drops the sigmoid and applies the softmax to the 4 scales' logits directly (do not use the "
                     "weighting switch). The check builds MyMSF(C), loads the state_dict of MSFBlock(C, "
                     "weighting='softmax') (strict), and compares the outputs.",
                     _judge_plain_msf, PLAIN_MSF_SOLUTION,
                     "sigmoid 只是逐元素的一层，没有参数，所以去掉它不改变 state_dict：同一组 SE 和 project 的权重，"
                     "两种写法都能加载。差别只在权重能走多远：没有 sigmoid，softmax 看到的是原始 logit，"
                     "可以接近 one-hot。",
                     "The sigmoid is an element-wise step without parameters, so dropping it leaves the state_dict as "
                     "it is: the same SE and project weights load into both versions. The only difference is how far "
                     "the weights can go: without the sigmoid the softmax sees the raw logits and can get close to "
                     "one-hot."),
    ]

