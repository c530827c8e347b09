"""Exercises for MSAA: questions with answers computed from the package, checks with hints, and a
code exercise (a channel-only MSAA, checked against the block's own layers)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ...blocks import MSAA
from ..feedback import Choice, CodeExercise, Exercise, Feedback, Hint
from .common import kept_shape, params

# The code exercise's block: CM-UNet's first instance, on small maps (the check stays fast).
CHANNELS, OUT, SIZE = (16, 32, 64), 64, 8
SPATIAL_PATH = ("conv_3x3", "conv_5x5", "conv_7x7", "spatial_attention")


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


def _spatial_path_params(out_channels: int = OUT) -> int:
    """Parameters of MSAA's multi-scale spatial path: the three convs and the spatial gate's conv."""
    body = MSAA(sum(CHANNELS), out_channels).fusion_conv
    return sum(params(getattr(body, name)) for name in SPATIAL_PATH)


def _channel_path_params(out_channels: int = OUT) -> int:
    """Parameters the channel-only MSAA uses: down, the channel gate's MLP and up."""
    body = MSAA(sum(CHANNELS), out_channels).fusion_conv
    return sum(params(getattr(body, name)) for name in ("down", "channel_attention", "up"))


def _paths(block: MSAA, xs: list[Tensor]) -> dict[str, Tensor]:
    """The outputs a student's module might produce, computed from the reference block's own layers."""
    fc = block.fusion_conv
    f = fc.down(torch.cat(xs, dim=1))
    s = fc.conv_3x3(f) + fc.conv_5x5(f) + fc.conv_7x7(f)
    fs = s * fc.spatial_attention(s)
    return {"channel": fc.up(f * fc.channel_attention(f)), "full": block(*xs), "spatial": fc.up(fs),
            "ungated": fc.up(f), "narrow": f * fc.channel_attention(f)}


def _judge_channel_only(answer: Any) -> Feedback:
    """Builds the student's class like MSAA(112, 64), gives it a seeded MSAA's weights and compares outputs."""
    with torch.random.fork_rng(devices=[]):  # the notebook's random numbers stay as they were
        return _check_channel_only(answer)


def _check_channel_only(answer: Any) -> Feedback:
    if isinstance(answer, nn.Module):
        return Feedback(False, "请把类本身交上来（answer = ChannelOnlyMSAA，不带括号），检查会自己构建它。",
                        "Hand in the class itself (answer = ChannelOnlyMSAA, no brackets); the check builds it.")
    if not callable(answer):
        return Feedback(False, "answer 应该是一个类，例如 ChannelOnlyMSAA。",
                        "answer should be a class, e.g. ChannelOnlyMSAA.")
    torch.manual_seed(0)
    reference = MSAA(sum(CHANNELS), OUT).eval()
    xs = [torch.randn(2, c, SIZE, SIZE) for c in CHANNELS]
    student = answer(sum(CHANNELS), OUT)
    if not isinstance(student, nn.Module):
        return Feedback(False, "answer(112, 64) 没有返回一个 nn.Module：让它继承 MSAA。",
                        "answer(112, 64) did not return an nn.Module: make it a subclass of MSAA.")
    result = student.load_state_dict(reference.state_dict(), strict=False)
    if result.missing_keys:
        new = ", ".join(result.missing_keys[:3])
        return Feedback(False, f"你的模块有 MSAA 没有的参数（{new}）：通道路径要用 MSAA 自己的 down、"
                        "channel_attention 和 up，这样它才能直接加载 MSAA 的权重。",
                        f"Your module has parameters MSAA does not have ({new}): reuse MSAA's own down, "
                        "channel_attention and up, so that it loads MSAA's weights as they are.")
    with torch.no_grad():
        out = student.eval()(*xs)
        ref = _paths(reference, xs)
    if not isinstance(out, Tensor):
        return Feedback(False, f"forward 应该返回一个张量，却返回了 {type(out).__name__}。",
                        f"forward should return one tensor; it returned {type(out).__name__}.")
    want = tuple(ref["channel"].shape)
    if tuple(out.shape) == tuple(ref["narrow"].shape) and torch.allclose(out, ref["narrow"], atol=1e-5):
        return Feedback(False, "通道门用对了，但输出只有 D 个通道：最后还要用 up 升到 out_channels。",
                        "The channel gate is right, but the output has only D channels: lift it with `up` to "
                        "out_channels at the end.")
    if tuple(out.shape) != want:
        return Feedback(False, f"输出形状是 {tuple(out.shape)}；应为 (B, out_channels, H, W) = {want}。",
                        f"The output shape is {tuple(out.shape)}; it should be (B, out_channels, H, W) = {want}.")
    if torch.allclose(out, ref["channel"], atol=1e-5):
        total, used = params(student), _channel_path_params()
        body = getattr(student, "fusion_conv", None)
        idle = ", ".join(n for n in (*SPATIAL_PATH, "down_2")
                         if body is not None and params(getattr(body, n, nn.Identity())))
        unused_zh = (f"其余 {total - used:,} 个属于用不到的层（{idle}）：它们不参与计算，却仍算在参数量里。"
                     ) if total > used else "你把用不到的层都删掉了。"
        unused_en = (f"The other {total - used:,} belong to layers it no longer uses ({idle}): they take no part in "
                     "the computation but still count.") if total > used else \
            "You removed every layer it no longer uses."
        return Feedback(True, f"正确！输出与 up(F ⊙ Ca) 一致，形状 {want}。你的模块有 {total:,} 个参数，"
                        f"通道路径只用到其中 {used:,} 个。" + unused_zh,
                        f"Correct! The output equals up(F * Ca), shape {want}. Your module has {total:,} "
                        f"parameters; the channel path uses {used:,} of them. " + unused_en)
    if torch.allclose(out, ref["full"], atol=1e-5):
        return Feedback(False, "这还是完整的 MSAA：多尺度空间路径（S ⊙ Sa）还在相加。",
                        "This is still the full MSAA: the multi-scale spatial path (S * Sa) is still added.")
    if torch.allclose(out, ref["spatial"], atol=1e-5):
        return Feedback(False, "这是只剩空间路径的 MSAA：要保留的是通道路径，去掉的是空间路径。",
                        "This is the spatial path alone: keep the channel path and drop the spatial one.")
    if torch.allclose(out, ref["ungated"], atol=1e-5):
        return Feedback(False, "F 还没有乘上通道门 Ca：Ca 由 channel_attention(F) 给出。",
                        "F is not multiplied by the channel gate yet: Ca is channel_attention(F).")
    return Feedback(False, "形状对了，但数值与 up(F ⊙ Ca) 不同：检查拼接顺序 [x1, x2, x4]、down、通道门从 F 算出、"
                    "最后 up，中间不要加别的东西（例如残差）。",
                    "The shape is right, but the values differ from up(F * Ca): check the order [x1, x2, x4] of the "
                    "concatenation, down, the channel gate computed from F, up at the end, and nothing added in "
                    "between (e.g. a residual).")


CHANNEL_ONLY_SOLUTION = """
class ChannelOnlyMSAA(MSAA):
    def forward(self, x1, x2, x4, last=False):
        fc = self.fusion_conv
        f = fc.down(torch.cat([x1, x2, x4], dim=1))   # F: (B, D, H, W)
        return fc.up(f * fc.channel_attention(f))      # up(F * Ca): (B, out_channels, H, W)
"""


def exercises() -> list[Exercise | CodeExercise]:
    """The exercises of MSAA, in order (the code exercise is number 7)."""
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
                 lambda: kept_shape("msaa", "spatial_gate", B=1, C=16, H=56, W=56),
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
        Exercise("msaa", "int",
                 "先估算，再用代码数一数：MSAA(112, 64) 的多尺度空间路径（conv_3x3、conv_5x5、conv_7x7 和空间门的 "
                 "7×7 卷积）一共有多少个参数？（整个块有 26,226 个）",
                 "Estimate first, then count with code: how many parameters does the multi-scale spatial path of "
                 "MSAA(112, 64) hold (conv_3x3, conv_5x5, conv_7x7 and the spatial gate's 7x7 conv)? (The whole "
                 "block has 26,226.)",
                 _spatial_path_params,
                 "{answer} = D²·(9 + 25 + 49) + 3·D + 2·49，D = 16：三个完整（非深度）卷积加偏置，再加空间门的 "
                 "2→1 卷积。它占了整个块的八成以上；通道路径（down、MLP、up）只有三千多个。",
                 "{answer} = D^2 * (9 + 25 + 49) + 3 * D + 2 * 49 with D = 16: three full (not depthwise) convs with "
                 "biases, plus the spatial gate's 2->1 conv. That is over 80% of the block; the channel path "
                 "(down, MLP, up) has only about three thousand.",
                 hints=[Hint(16 * 16 * 83, "三个卷积都有偏置，空间门还有自己的 7×7 卷积。",
                             "The three convs have biases, and the spatial gate has its own 7x7 conv."),
                        Hint(16 * 16 * 83 + 3 * 16, "别忘了空间门自己的 7×7 卷积（2 → 1，无偏置）。",
                             "Do not forget the spatial gate's own 7x7 conv (2 -> 1, no bias)."),
                        Hint(16 * 83 + 3 * 16 + 98, "这些是完整卷积，不是深度卷积：每个卷积有 D × D 个核。",
                             "These are full convs, not depthwise: each has D x D kernels.")],
                 nudge_zh="每个卷积的参数 = 输入通道 × 输出通道 × k² + 偏置。",
                 nudge_en="Each conv has in_channels x out_channels x k^2 weights, plus its biases."),
        CodeExercise("msaa",
                     "写一个只有通道路径的 MSAA：继承 MSAA，重写 forward，只保留 拼接 → down → F ⊙ Ca → up，"
                     "去掉多尺度空间路径。检查会按 MSAA(112, 64) 构建你的类、装入一个 MSAA 的权重，"
                     "在三个编码器尺度上比较输出，并告诉你参数量。",
                     "Write an MSAA with the channel path only: subclass MSAA and override forward to keep "
                     "concatenate -> down -> F * Ca -> up, without the multi-scale spatial path. The check builds "
                     "your class as MSAA(112, 64), loads an MSAA's weights into it, compares the outputs on three "
                     "encoder scales and tells you the parameter count.",
                     _judge_channel_only, CHANNEL_ONLY_SOLUTION,
                     "F = down(拼接)，Ca = channel_attention(F)，输出 up(F ⊙ Ca)。用到的层都是 MSAA 自己的，所以 "
                     "state_dict 不变、MSAA 的权重直接能装。MSAA(112, 64) 的 26,226 个参数里，通道路径只用 3,024 个，"
                     "多尺度空间路径占 21,394 个：这个块的大部分容量花在“多尺度”上。08 里的 remix.MSAAChannelOnly "
                     "是把空间路径的层删掉的版本。",
                     "F = down(concatenation), Ca = channel_attention(F), output up(F * Ca). Every layer it uses "
                     "is MSAA's own, so the state_dict is unchanged and an MSAA's weights load as they are. Of "
                     "MSAA(112, 64)'s 26,226 parameters the channel path uses 3,024 and the multi-scale spatial "
                     "path holds 21,394: most of the block's capacity goes into the multi-scale part. "
                     "remix.MSAAChannelOnly (used in 08) is the version with the spatial path's layers removed."),
    ]
