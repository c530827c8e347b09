"""Guided remix tasks (增删改查) with checks, for the remix lab notebook (08).

The tasks follow the course's one exercise pattern: ``ex = task(n)`` shows the task (in the course
language, the other folded), ``ex.check(answer)`` runs what the student built (a module, a recipe
or a builder) and answers with a `Feedback`: what is already right, and where to look when
something is missing, without writing the answer down. ``ex.check(None)`` says "not answered yet";
``ex.reveal()`` gives a solution and the reason, only when asked. The ``check_*`` functions are the
judges, also usable on their own.

* 1 增 `check_add_skip`: a skip connection around an MSF-based composite.
* 2 删 `check_drop_sigmoid`: MSF without the sigmoid before its softmax.
* 3 改 `check_swaps`: SAFM with average pooling and MFE with depthwise-separable convs (the
  task's answer is the pair ``(safm, mfe)``).
* 4 查 `check_look_up`: how MSAA, the CBAM variant, standard CBAM and MSF wire their gates.
* 5 造 `check_own_block`: a new block built from at least two catalog blocks, other than the lab's
  own examples (`lab_example`).

`preference_inputs` and `confident_msf` build the example of task 2: four inputs where each
channel prefers one of them, and SE convs that act as amplifiers (as if training had taught
them to trust that input), so the two weightings can be compared on the same logits.

Example:
    >>> from fusion_edu.blocks import MSFBlock
    >>> ex = task(2)
    >>> ex.check(None).answered, ex.check(MSFBlock(8)).correct, ex.check(MSFBlock(8, weighting="softmax")).correct
    (False, False, True)
"""

from __future__ import annotations

import copy
import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..blocks import BLOCKS, NOTE_BOUNDS, SAFM, MFEBlock, MSFBlock, OSRAttention
from ..errors import message, value_error
from ..lang import fold, pick
from ..remix import CBAMChannelOnly, MSFCoord, Parallel, Residual, Series, as_recipe, count, param_diff, ports
from ..trace import trace
from .feedback import NOT_ANSWERED, CodeExercise, Feedback

__all__ = ["Task", "TASKS", "task", "check_add_skip", "check_drop_sigmoid", "check_swaps", "check_look_up",
           "check_own_block", "lab_example", "LAB_EXAMPLES", "preference_inputs", "confident_msf", "CONNECTIONS",
           "ORDERS", "COMBINES", "NOTE_BOUNDS"]

_SES = ("SE1", "SE2", "SE3", "SE4")


def _no(zh: str, en: str) -> Feedback:
    return Feedback(False, zh, en)


def _build(item: Any, C: int, H: int, W: int) -> nn.Module:
    """A copy of a built module (the student's stays as it is), or a module built for C channels (seeded)."""
    if isinstance(item, nn.Module):
        return copy.deepcopy(item)
    return as_recipe(item).module(C=C, H=H, W=W)


def _try_build(item: Any, C: int, H: int, W: int) -> tuple[nn.Module | None, Feedback | None]:
    if item is None:
        return None, NOT_ANSWERED
    try:
        return _build(item, C, H, W), None
    except (ValueError, TypeError) as e:
        return None, _no(f"还构建不出来：{message(e, 'zh')}", f"It does not build yet: {message(e, 'en')}")


def _contains(module: nn.Module, cls: type) -> bool:
    return any(isinstance(m, cls) for m in module.modules())


# --------------------------------------------------------------------------- task 1: add a skip connection

def check_add_skip(block: Any, *, C: int = 16, H: int = 32, W: int = 32) -> Feedback:
    """Task 1 (增): is there a skip connection around a part that contains MSF, and what did it cost?

    Args:
        block: The student's block (one input, one output), or a builder of C.
        C, H, W: Size of the test input.

    Shape:
        test input: (1, C, H, W); the block must give the same shape back.
    """
    module, problem = _try_build(block, C, H, W)
    if problem is not None:
        return problem
    if not _contains(module, MSFBlock):
        return _no("你的模块里没有 MSF（MSFBlock）。这个任务是给上面那个用 MSF 融合的组合模块加跳连，请从它出发。",
                   "There is no MSF (MSFBlock) inside your block. The task is to add a skip connection to the "
                   "MSF-fused composite above: start from it.")
    around = [r for r in module.modules() if isinstance(r, Residual) and _contains(r.block, MSFBlock)]
    if not around:
        if _contains(module, Residual):
            return _no("有跳连了，但它绕过的部分里没有 MSF。把跳连放在 MSF 组合模块的外面。",
                       "There is a skip connection, but the part it goes around has no MSF in it. Put it around "
                       "the MSF composite.")
        return _no("还没有跳连：输出仍然只是 F(x)，没有把输入 x 加回来。看看 remix 的“增”那一组包装器里，"
                   "哪一个会计算 x + F(x)。",
                   "No skip connection yet: the output is still F(x) alone; nothing adds the input x back. Look "
                   "at the 'add' (增) wrappers in remix: which one computes x + F(x)?")
    x = torch.randn(1, C, H, W, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            result = trace(module.eval(), x, strict=False)
    except (ValueError, TypeError) as e:
        return _no(f"结构对了，但运行出错：{message(e, 'zh')}", f"The wiring is there but running it fails: "
                   f"{message(e, 'en')}")
    out = result.output_shapes
    if out != [tuple(x.shape)]:
        return _no(f"输出形状 {out} 与输入 {tuple(x.shape)} 不同：跳连要求两者能相加。",
                   f"The output shape {out} differs from the input {tuple(x.shape)}: a skip connection needs the "
                   "two to be addable.")
    residual = around[0]
    rows = [r for r in result.rows if r.block == "Residual"]
    inner, total = count(residual.block), count(residual)
    added = total - inner
    if added:
        return Feedback(True, f"跳连已加上（追踪表多了 {len(rows)} 行 Residual 写的“残差”步骤）。参数 {inner:,} → "
                        f"{total:,}（+{added:,}）：多出来的来自跳连上的投影；通道数相同时不需要它，"
                        "普通的 x + F(x) 不带参数。",
                        f"Skip connection added (the trace has {len(rows)} new 'residual' rows written by Residual). "
                        f"Parameters {inner:,} -> {total:,} (+{added:,}): the extra ones come from the projection "
                        "on the skip path; with equal channels it is not needed, and a plain x + F(x) has none.")
    return Feedback(True, f"跳连已加上：追踪表多了 {len(rows)} 行 Residual 写的“残差”步骤。参数 {inner:,} → {total:,}"
                    "（+0）：x + F(x) 只是一次逐元素加法，不带任何参数，但梯度多了一条直达输入的路。",
                    f"Skip connection added: the trace has {len(rows)} new 'residual' rows written by Residual. "
                    f"Parameters {inner:,} -> {total:,} (+0): x + F(x) is one element-wise add with no "
                    "parameters, but gradients get a direct path to the input.")


# --------------------------------------------------------------------------- task 2: drop the sigmoid

def preference_inputs(C: int = 8, *, B: int = 2, H: int = 8, W: int = 8, strength: float = 1.0,
                      seed: int = 0) -> list[Tensor]:
    """Four inputs for MSF where channel c of input ``c % 4`` has mean `strength` and every other map mean 0.

    Shape:
        out: 4 tensors (B, C, H, W) (noise with std 0.1 around those means)
    """
    g = torch.Generator().manual_seed(seed)
    xs = []
    for i in range(4):
        mean = torch.tensor([strength if c % 4 == i else 0.0 for c in range(C)]).view(1, C, 1, 1)
        xs.append(mean + 0.1 * torch.randn(B, C, H, W, generator=g))
    return xs


def confident_msf(block: MSFBlock, gain: float = 4.0) -> MSFBlock:
    """Sets MSF's four SE convs to ``gain * identity`` (in place) and returns the block in eval mode.

    Each SE_i then passes channel c's pooled value through, amplified: the logit of input i for
    channel c is ``gain * mean(x_i[c])``. With `preference_inputs`, the preferred input of every
    channel gets logit ``gain * strength`` and the others about 0: the same logits for both
    weightings, so only the step after them differs.
    """
    if not isinstance(block, MSFBlock) or isinstance(block, MSFCoord):
        raise value_error("confident_msf", "needs an MSFBlock with SE1..SE4", {"block": type(block).__name__},
                          "Pass MSFBlock(C) or MSFBlock(C, weighting=...).", zh="需要带 SE1..SE4 的 MSFBlock")
    C = block.in_channels
    with torch.no_grad():
        for name in _SES:
            getattr(block, name).conv[0].weight.copy_(gain * torch.eye(C).view(C, C, 1, 1))
    return block.eval()


def _preferred_weight(block: MSFBlock, gain: float = 4.0) -> float:
    """Mean weight that the confident block gives each channel's preferred input."""
    C = block.in_channels
    confident_msf(block, gain)
    with torch.no_grad():
        weights = trace(block, *preference_inputs(C), keep=True).tensors["weights"][..., 0]  # (B, C, 4)
    preferred = torch.tensor([c % 4 for c in range(C)])
    return weights[:, torch.arange(C), preferred].mean().item()


def check_drop_sigmoid(block: Any, *, C: int = 8) -> Feedback:
    """Task 2 (删): an MSF whose scale weights can leave the note's (0.109, 0.475) band.

    The check copies `confident_msf`'s SE weights into a copy of the block and reads the weight
    each channel gives its preferred input (`preference_inputs`).
    """
    module, problem = _try_build(block, C, 8, 8)
    if problem is not None:
        return problem
    if isinstance(module, MSFCoord):
        return _no("这是坐标注意力版本：它把整套打分（SE1..SE4）都换掉了。这个任务只删掉一步，保留 SE 卷积。",
                   "This is the coordinate-attention version: it replaces the whole scoring (SE1..SE4). The task "
                   "deletes one step and keeps the SE convs.")
    if not isinstance(module, MSFBlock):
        return _no(f"需要一个 MSFBlock，你给的是 {type(module).__name__}。",
                   f"An MSFBlock is needed; you gave a {type(module).__name__}.")
    top = _preferred_weight(module)
    low, high = NOTE_BOUNDS
    if top < high:
        return _no(f"同样的打分下，每个通道偏好的那个输入只拿到 {top:.3f} 的权重，仍在 ({low:.3f}, {high:.3f}) "
                   "之内：softmax 前面那一步压缩还在。用 show.doc(MSFBlock) 看看它的参数。",
                   f"With the same scores, each channel's preferred input gets only {top:.3f}, still inside "
                   f"({low:.3f}, {high:.3f}): the squashing step before the softmax is still there. Look at "
                   "MSFBlock's arguments with show.doc(MSFBlock).")
    return Feedback(True, f"删掉了：同样的打分下，偏好的输入拿到 {top:.3f} 的权重，超过了笔记写法的上限 "
                    f"{high:.3f}。softmax 现在可以几乎只选一个输入；参数量不变（sigmoid 没有参数）。",
                    f"Deleted: with the same scores the preferred input gets {top:.3f}, above the note's ceiling "
                    f"{high:.3f}. The softmax can now pick (almost) one input; the parameter count is unchanged "
                    "(a sigmoid has no parameters).")


# --------------------------------------------------------------------------- task 3: swap pooling and convs

def check_swaps(safm: Any, mfe: Any, *, C: int = 32) -> Feedback:
    """Task 3 (改): SAFM with average pooling, and MFE whose branch convs are depthwise-separable.

    Args:
        safm: The student's SAFM (module, variant key, recipe or builder).
        mfe: The student's MFE.
        C: Channels to build recipes at.
    """
    first, problem = _try_build(safm, C, 32, 32)
    if problem is not None:
        return problem
    second, problem = _try_build(mfe, C, 32, 32)
    if problem is not None:
        return problem
    if not isinstance(first, SAFM):
        return _no(f"第一个参数应是 SAFM，你给的是 {type(first).__name__}。",
                   f"The first argument should be a SAFM; you gave a {type(first).__name__}.")
    if not isinstance(second, MFEBlock):
        return _no(f"第二个参数应是 MFE（MFEBlock 或它的变体），你给的是 {type(second).__name__}。",
                   f"The second argument should be an MFE (MFEBlock or a variant); you gave a "
                   f"{type(second).__name__}.")
    hints_zh, hints_en = [], []
    if first.pool != "avg":
        hints_zh.append("SAFM 的粗尺度仍用最大池化（笔记的写法）：换成取平均的那一种，用 show.doc(SAFM) 找开关。")
        hints_en.append("SAFM's coarse levels still use max pooling (the note's): switch to the one that averages; "
                        "find the switch with show.doc(SAFM).")
    conv = getattr(second, "conv", "dilated")
    if conv == "standard":
        hints_zh.append("MFE 换成了普通 3×3：每个卷积仍有 9·C·C 个权重，感受野反而变小。要的是把卷积拆成"
                        "“逐通道 3×3 + 1×1 混合通道”的那一种。")
        hints_en.append("MFE now has plain 3x3 convs: still 9*C*C weights per conv, and a smaller receptive field. "
                        "The task wants the conv split into a per-channel 3x3 plus a 1x1 that mixes channels.")
    elif conv != "depthwise":
        hints_zh.append("MFE 的分支卷积还是笔记里的空洞卷积：看看 MFEVariant 的 conv 选项。")
        hints_en.append("MFE's branch convs are still the note's dilated ones: look at MFEVariant's conv options.")
    if second.weighting != "sigmoid_softmax":
        hints_zh.append("你还改了 MFE 的尺度权重：一次只改一处，比较才说明问题。")
        hints_en.append("You also changed MFE's scale weighting: change one thing at a time so the comparison "
                        "means something.")
    if hints_zh:
        return _no(" ".join(hints_zh), " ".join(hints_en))
    d_safm = param_diff(SAFM(first.dim, first.n_levels), first).delta
    d_mfe = param_diff(MFEBlock(second.in_channels, second.atrous_rates), second).delta
    return Feedback(True, f"两处都换好了。参数变化：SAFM {d_safm:+,}（池化没有参数），MFE {d_mfe:+,}"
                    "（layer2..4 的 3×3 卷积拆成逐通道 3×3 + 1×1）。",
                    f"Both swaps done. Parameter change: SAFM {d_safm:+,} (pooling has no parameters), MFE "
                    f"{d_mfe:+,} (the 3x3 convs of layer2..4 split into a per-channel 3x3 plus a 1x1).")


# --------------------------------------------------------------------------- task 4: look up the wiring

ORDERS = ("sequential", "parallel", "channel only")
COMBINES = ("multiply", "add", "two outputs", "weighted sum")


@dataclass(frozen=True)
class Connection:
    """How one block wires its channel and spatial paths (the rows of task 4's table)."""

    name: str
    order: str
    combine: str
    channel_sees_zh: str
    channel_sees_en: str
    spatial_sees_zh: str
    spatial_sees_en: str
    hint_zh: str
    hint_en: str


CONNECTIONS: dict[str, Connection] = {
    "msaa": Connection(
        "MSAA (CM-UNet)", "parallel", "add",
        "F = down(拼接的输入)", "F = down(concatenated inputs)",
        "S = 3×3 + 5×5 + 7×7 卷积作用于 F（不是 Fc）", "S = 3x3 + 5x5 + 7x7 convs of F (not Fc)",
        "顺着图里进入 spatial_attention 的箭头往回找：它来自通道门之后的乘法吗？两路最后在哪里汇合？",
        "Follow the arrow into spatial_attention back up the graph: does it come from the multiply after the "
        "channel gate? Where do the two paths meet at the end?"),
    "cbam_joint": Connection(
        "CBAM variant (note, joint MLP)", "parallel", "two outputs",
        "x，且经联合 MLP 与空间描述符混合", "x, mixed with the spatial descriptor by the joint MLP",
        "x（不是通道加权后的 x）", "x (not the channel-weighted x)",
        "看图里的两个 mul：它们各自乘的是哪个张量？forward 最后 return 了几个张量？",
        "Look at the two mul nodes: which tensor does each multiply? How many tensors does forward return?"),
    "cbam_standard": Connection(
        "standard CBAM (ECCV 2018)", "sequential", "multiply",
        "x", "x",
        "x' = x ⊙ Mc（已经过通道门）", "x' = x * Mc (already channel-gated)",
        "看图里第一个 mul 的输出流向哪里：空间门的 amax/mean 读的是 x 还是它？",
        "Where does the output of the first mul go? Do the spatial gate's amax/mean read x or that output?"),
    "msf": Connection(
        "MSF (SHISRCNet)", "channel only", "weighted sum",
        "每个输入各自的全局平均池化", "each input's own global average pool",
        "没有空间门", "no spatial gate",
        "MSF 的权重形状是 (B, C, 4, 1)：里面有 H 或 W 吗？四个输入最后是怎么合成一个的？",
        "MSF's weights have shape (B, C, 4, 1): is there an H or W axis in it? How do the four inputs become one?"),
}


def check_look_up(answers: dict[str, tuple[str, str]]) -> Feedback:
    """Task 4 (查): for each block, (order of the gates, how the paths are combined).

    Args:
        answers: ``{"msaa": (order, combine), "cbam_joint": ..., "cbam_standard": ..., "msf": ...}``
            with order in `ORDERS` and combine in `COMBINES`.
    """
    if answers is None:
        return NOT_ANSWERED
    if not isinstance(answers, dict):
        return _no("请用字典回答，例如 {'msaa': (顺序, 合并方式), ...}。",
                   "Answer with a dict, e.g. {'msaa': (order, combine), ...}.")
    missing = [k for k in CONNECTIONS if k not in answers]
    if missing:
        return _no(f"还缺这些模块：{missing}。", f"These blocks are missing: {missing}.")
    unreadable = [k for k in CONNECTIONS if not (isinstance(answers[k], (tuple, list)) and len(answers[k]) == 2
                                                  and answers[k][0] in ORDERS and answers[k][1] in COMBINES)]
    if unreadable:
        return _no(f"{unreadable} 的答案读不懂：每项写成 (顺序, 合并方式)，顺序取 {list(ORDERS)}，合并方式取 "
                   f"{list(COMBINES)}。",
                   f"Cannot read the answer for {unreadable}: write each as (order, combine) with order in "
                   f"{list(ORDERS)} and combine in {list(COMBINES)}.")
    wrong = [k for k, c in CONNECTIONS.items() if tuple(answers[k]) != (c.order, c.combine)]
    if not wrong:
        return Feedback(True, "四个都对。想看每个门读的是什么，运行 ex.reveal()。",
                        "All four right. Run ex.reveal() for what each gate reads.")
    right = len(CONNECTIONS) - len(wrong)
    zh = [f"{right}/{len(CONNECTIONS)} 个对了。"] + [f"{k}：{CONNECTIONS[k].hint_zh}" for k in wrong]
    en = [f"{right}/{len(CONNECTIONS)} right."] + [f"{k}: {CONNECTIONS[k].hint_en}" for k in wrong]
    return _no(" ".join(zh), " ".join(en))


def connection_table() -> str:
    """Task 4's answer as an HTML table (block, order, what each gate reads, how the paths are combined)."""
    head = ("模块 block", "顺序 order", "通道门读 channel gate reads", "空间门读 spatial gate reads",
            "合并 combine")
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td><b>{c.order}</b></td>"
        f"<td>{html.escape(c.channel_sees_zh)}<br>{html.escape(c.channel_sees_en)}</td>"
        f"<td>{html.escape(c.spatial_sees_zh)}<br>{html.escape(c.spatial_sees_en)}</td><td><b>{c.combine}</b></td></tr>"
        for c in CONNECTIONS.values())
    return ("<table><thead><tr>" + "".join(f"<th style='text-align:left'>{h}</th>" for h in head)
            + f"</tr></thead><tbody>{rows}</tbody></table>")


# --------------------------------------------------------------------------- task 5: your own block

_CATALOG = {spec.cls: key for key, spec in BLOCKS.items()}


def _catalog_parts(module: nn.Module) -> list[str]:
    """Catalog keys of the blocks inside `module` (variants count as their base block), in order."""
    found = []
    for m in module.modules():
        key = next((k for cls, k in _CATALOG.items() if isinstance(m, cls)), None)
        if key and key not in found:
            found.append(key)
    return found


def lab_example(C: int, fuse: str = "gated") -> nn.Module:
    """The remix lab's worked example for task 5: SAFM and OSRA in parallel, fused, with a skip around them.

    Shape:
        x: (B, C, H, W), C % 8 == 0 (OSRA's 8 heads), H, W >= 8 (SAFM's 4 levels)
        out: (B, C, H, W)
    """
    return Residual(Parallel(SAFM(C), OSRAttention(C), fuse=fuse))


def _msf_mix(C: int) -> nn.Module:
    return Parallel(SAFM(C), MFEBlock(C, [2, 4, 8]), fuse="msf")


LAB_EXAMPLES: dict[str, Callable[[int], nn.Module]] = {
    "msf_mix": _msf_mix,
    "with_gate": lambda C: Series(_msf_mix(C), CBAMChannelOnly(C, reduction=4)),
    "Residual(msf_mix)": lambda C: Residual(_msf_mix(C)),
    "example_block": lab_example,
}
"""Builders of the composites the lab itself shows (task 5 asks for a block other than these)."""


def _structure(module: nn.Module) -> tuple[str, ...]:
    """The module tree as class names in order: equal for two blocks wired the same way from the same parts."""
    return tuple(type(m).__name__ for m in module.modules())


def check_own_block(block: Any, *, C: int = 16, H: int = 32, W: int = 32) -> Feedback:
    """Task 5: a new one-input block made of at least two catalog blocks that keeps the input's shape.

    A block wired exactly like one of `LAB_EXAMPLES` (the same parts in the same places) is not new:
    the feedback asks for a change of part, fusion or wiring.

    Args:
        block: A builder ``lambda C: ...`` (preferred: it can be rebuilt at any C) or a built module.
        C, H, W: Size of the CPU test run.

    Shape:
        test input: (1, C, H, W); the block must give the same shape back.
    """
    module, problem = _try_build(block, C, H, W)
    if problem is not None:
        return problem
    seen = next((name for name, build in LAB_EXAMPLES.items() if _structure(build(C)) == _structure(module)), None)
    if seen is not None:
        return _no(f"这个组合和笔记本里的例子 {seen} 接法完全相同。换掉至少一个部件、融合方式或连接方式，"
                   "做一个你自己的。",
                   f"This is wired exactly like the lab's example {seen}. Change at least one part, the fusion or "
                   "the wiring, and make it your own.")
    parts = _catalog_parts(module)
    if len(parts) < 2:
        return _no(f"你的模块里只找到这些目录模块：{parts or '无'}。至少用两个（例如一个做分支，一个做融合）。",
                   f"Only these catalog blocks were found inside: {parts or 'none'}. Use at least two (e.g. one "
                   "as a branch, one as the fusion).")
    n_in = len(ports(module).ins)
    if n_in != 1:
        return _no(f"它需要 {n_in} 个输入；可以直接放进网络的模块只接收一个 x。把多输入模块放在 Parallel 的 fuse= 里。",
                   f"It takes {n_in} inputs; a block you can drop into a network takes one x. Put a multi-input "
                   "block in Parallel's fuse=.")
    x = torch.randn(1, C, H, W, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            out = module.eval()(x)
    except (ValueError, TypeError) as e:
        return _no(f"运行出错：{message(e, 'zh')}", f"Running it fails: {message(e, 'en')}")
    if not isinstance(out, Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        return _no(f"输出 {got} 与输入 {tuple(x.shape)} 不同：让它保持形状，才能像其他模块一样替换使用。",
                   f"The output {got} differs from the input {tuple(x.shape)}: keep the shape so it can replace "
                   "other blocks.")
    if not torch.isfinite(out).all():
        return _no("输出里有 NaN 或 inf。", "The output contains NaN or inf.")
    rebuild = ("；它是 builder，可以在任意 C 下重建" if not isinstance(block, nn.Module)
               else "；提示：写成 lambda C: ... 就能在任意 C 下重建")
    rebuild_en = ("; it is a builder, so it rebuilds at any C" if not isinstance(block, nn.Module)
                  else "; tip: write it as lambda C: ... to rebuild it at any C")
    return Feedback(True, f"可以用：由 {' + '.join(parts)} 组成，参数 {count(module):,}，输出形状与输入相同"
                    f"{rebuild}。",
                    f"It works: made of {' + '.join(parts)}, {count(module):,} parameters, output shape equals the "
                    f"input's{rebuild_en}.")


# --------------------------------------------------------------------------- the task list

class Task(CodeExercise):
    """One guided task: a `CodeExercise` with its verb (增 删 改 查 造).

    ``check(answer)`` runs the task's judge on what the student built (None: not answered yet; an
    error raised by the student's code becomes feedback); ``reveal()`` gives a solution and why.

    Args:
        n: The task's number (1-5).
        verb_zh, verb_en: 增 add, 删 delete, 改 modify, 查 look up, 造 build.
        zh, en: The task.
        judge: The check, called with the answer.
        solution: Code of one solution (shown by `reveal`).
        explain_zh, explain_en: Why it works.
    """

    def __init__(self, n: int, verb_zh: str, verb_en: str, zh: str, en: str, judge: Callable[[Any], Feedback],
                 solution: str, explain_zh: str, explain_en: str):
        super().__init__("remix", zh, en, judge, solution, explain_zh, explain_en)
        self.n, self.verb_zh, self.verb_en = n, verb_zh, verb_en

    def __repr__(self) -> str:
        return f"<Task {self.n} {self.verb_en}>"

    def __str__(self) -> str:
        return f"{pick('任务', 'Task')} {self.n} · {pick(self.verb_zh, self.verb_en)}\n{self.prompt()}"

    def _repr_html_(self) -> str:
        head = f"{pick('任务', 'Task')} {self.n} · {html.escape(pick(self.verb_zh, self.verb_en))}"
        return (f"<div style='border-left:4px solid #4C72B0;padding:4px 10px'><b>{head}</b>"
                + fold(f"<p>{html.escape(self.zh)}</p>", f"<p>{html.escape(self.en)}</p>") + "</div>")


def _check_swap_pair(answer: Any) -> Feedback:
    """Task 3's answer is a pair: (your SAFM, your MFE)."""
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2):
        return _no("请回答一对模块：answer = (你的 SAFM, 你的 MFE)。",
                   "Answer with a pair of modules: answer = (your SAFM, your MFE).")
    return check_swaps(*answer)


TASKS: dict[int, Task] = {
    1: Task(1, "增", "add",
            "给用 MSF 融合的组合模块 msf_mix 加一条跳连，使输出 = x + msf_mix(x)。"
            "然后看追踪表多了哪几行、参数变了多少。",
            "Add a skip connection around the MSF-fused composite msf_mix, so that out = x + msf_mix(x). Then see "
            "which rows the trace gains and how the parameter count changes.",
            check_add_skip, "Residual(msf_mix)",
            "Residual(block) 计算 x + block(x)。两者形状相同，所以不需要投影，参数 +0；追踪表多出“保留输入”“主路径”"
            "“把输入加回来”三行。MFE 自带这样一条跳连（project(fused + x)），MSF 没有。",
            "Residual(block) computes x + block(x). The shapes match, so no projection is needed and the parameters "
            "change by +0; the trace gains the rows 'keep the input', 'the main path' and 'add the input back'. MFE "
            "has such a skip built in (project(fused + x)); MSF does not."),
    2: Task(2, "删", "delete",
            "删掉 MSF 在 softmax 前的 sigmoid，让一个输入可以拿到几乎全部权重。",
            "Delete the sigmoid before MSF's softmax, so that one input can take (almost) all the weight.",
            check_drop_sigmoid, 'MSFBlock(C, weighting="softmax")',
            "sigmoid 把每个打分压进 (0, 1)，softmax 再在 4 个输入间分配：最大也只有 e/(e+3) ≈ 0.475，最小 1/(1+3e) ≈ "
            "0.109。去掉 sigmoid 后打分不受限，softmax 可以接近 one-hot（SK-Net 就是这样做的）。",
            "The sigmoid squashes every score into (0, 1) before the softmax shares the weight among 4 inputs: at "
            "most e/(e+3) ~ 0.475, at least 1/(1+3e) ~ 0.109. Without it the scores are free and the softmax can "
            "get close to one-hot (as in SK-Net)."),
    3: Task(3, "改", "modify",
            "把 SAFM 的最大池化换成平均池化，把 MFE 分支里的卷积换成深度可分离卷积（C = 32）。"
            "答案是一对模块：answer = (你的 SAFM, 你的 MFE)。",
            "Swap SAFM's max pooling for average pooling, and MFE's branch convs for depthwise-separable ones "
            "(C = 32). The answer is a pair of modules: answer = (your SAFM, your MFE).",
            _check_swap_pair, '(SAFM(32, pool="avg"), MFEVariant(32, [2, 4, 8], conv="depthwise"))',
            "池化没有参数，也不算 FLOPs（只计卷积和矩阵乘），所以 SAFM 的代价不变，变的是粗尺度特征的内容（平均更平滑，"
            "最大更突出尖峰）。MFE 的 layer2..4 每个 9·C·C 的卷积变成 9·C + C·C：C=32 时每个分支少 7,904 个参数。",
            "Pooling has no parameters and counts no FLOPs (only convs and matmuls are counted), so SAFM's cost stays "
            "the same; what changes is the content of the coarse levels (averages are smoother, maxima keep peaks). "
            "In MFE each 9*C*C conv of layer2..4 becomes 9*C + C*C: 7,904 fewer parameters per branch at C=32."),
    4: Task(4, "查", "look up",
            "看 MSAA、CBAM 变体、标准 CBAM 和 MSF 的图：通道路径和空间路径是先后（sequential）、并行（parallel），"
            "还是只有通道（channel only）？两路怎么合并？答案写成字典 {'msaa': (顺序, 合并方式), ...}，"
            "顺序取 ORDERS，合并方式取 COMBINES。",
            "Look at the graphs of MSAA, the CBAM variant, standard CBAM and MSF: are the channel and spatial paths "
            "sequential, parallel, or is there a channel path only? How are the paths combined? Answer with a dict "
            "{'msaa': (order, combine), ...}, order from ORDERS, combine from COMBINES.",
            check_look_up,
            "{'msaa': ('parallel', 'add'),\n 'cbam_joint': ('parallel', 'two outputs'),\n"
            " 'cbam_standard': ('sequential', 'multiply'),\n 'msf': ('channel only', 'weighted sum')}",
            "MSAA 的通道门读 F，空间门读 F 经 3/5/7 卷积后的 S（不是 Fc），Fc + Fs 相加后 up；"
            "CBAM 变体的两个门都乘在 x 上，返回两个张量由调用者合并（它的联合 MLP 让两个门的打分互相影响）；"
            "标准 CBAM 先通道后空间，空间门读的是 x ⊙ Mc；MSF 每个输入每个通道一个权重，没有空间门，输出是加权和。",
            "MSAA's channel gate reads F and its spatial gate reads S, the 3/5/7 convs of F (not Fc); Fc + Fs is "
            "added, then projected up; the CBAM variant multiplies both gates onto x and returns two tensors for the "
            "caller to combine (its joint MLP lets the two gates' scores inform each other); standard CBAM goes "
            "channel first, then space, and its spatial gate reads x * Mc; MSF has one weight per input and channel, "
            "no spatial gate, and outputs the weighted sum."),
    5: Task(5, "造", "build",
            "用至少两个目录里的模块拼一个你自己的新模块（不同于本笔记本里的例子）：一个输入、输出形状不变。"
            "写成 builder（lambda C: ...），就能在任意尺寸下追踪、比较和画图。",
            "Build a new block of your own from at least two catalog blocks (other than this notebook's examples): "
            "one input, output shape unchanged. Write it as a builder (lambda C: ...) so it can be traced, compared "
            "and drawn at any size.",
            check_own_block, "lambda C: Residual(Series(SAFM(C), OSRAttention(C)))",
            "串联：先用 SAFM 做局部、多尺度的调制，再让 OSRA 在调制后的特征上做全局注意力（键值先缩小），"
            "外面一条跳连保留输入。这只是一种解法：任何能通过检查的组合都可以。",
            "In series: SAFM first modulates locally at several scales, then OSRA attends globally over the "
            "modulated features (keys and values shrunk first), and a skip around both keeps the input. This is one "
            "solution: any combination that passes the check will do."),
}


def task(n: int) -> Task:
    """Task `n` (1-5) of the remix lab."""
    if n not in TASKS:
        raise value_error("remix_tasks.task", f"n must be one of {sorted(TASKS)}", {"n": n}, "Example: task(1).",
                          zh=f"n 只能取 {sorted(TASKS)}", zh_hint="例如 task(1)。")
    return TASKS[n]
