"""The remix lab's guided tasks (fusion_edu.learn.remix_tasks): revealed solutions pass, wrong answers get a
hint that does not give the answer away, and what the answers claim holds in the blocks."""

import pytest
import torch

from fusion_edu import trace
from fusion_edu.blocks import MSAA, SAFM, CBAMBlock, MFEBlock, MSFBlock, OSRAttention
from fusion_edu.learn import remix_tasks as tasks
from fusion_edu.learn.reference import StandardCBAM
from fusion_edu.remix import ChannelAdapter, MFEVariant, MSFCoord, Parallel, Residual, Series


def test_task_checks_pass_the_revealed_solutions():
    C = 16
    msf_mix = Parallel(SAFM(C), MFEBlock(C, [2, 4, 8]), fuse="msf")
    ok = tasks.check_add_skip(Residual(msf_mix))
    assert ok.correct and "+0" in ok.en and "12,400 -> 12,400" in ok.en
    assert tasks.check_drop_sigmoid(MSFBlock(8, weighting="softmax")).correct
    assert tasks.check_swaps(SAFM(32, pool="avg"), MFEVariant(32, [2, 4, 8], conv="depthwise")).correct
    assert tasks.check_swaps("safm_avg", "mfe_depthwise").correct  # variant keys work too
    answers = {k: (c.order, c.combine) for k, c in tasks.CONNECTIONS.items()}
    assert tasks.check_look_up(answers).correct
    assert tasks.check_own_block(lambda C: Residual(Parallel(SAFM(C), OSRAttention(C), fuse="add"))).correct
    assert [tasks.task(n).n for n in range(1, 6)] == [1, 2, 3, 4, 5]
    assert tasks.task(1).reveal().answer == "Residual(msf_mix)"


@pytest.mark.parametrize("check,args,leak", [
    ("check_add_skip", (None,), "Residual("),
    ("check_add_skip", (Parallel(SAFM(16), MFEBlock(16, [2, 4, 8]), fuse="msf"),), "Residual("),
    ("check_add_skip", (Residual(SAFM(16)),), "Residual("),
    ("check_drop_sigmoid", (MSFBlock(8),), "weighting="),
    ("check_drop_sigmoid", (MSFCoord(8),), "weighting="),
    ("check_swaps", (SAFM(32), MFEBlock(32, [2, 4, 8])), "'avg'"),
    ("check_swaps", (SAFM(32, pool="avg"), MFEVariant(32, [2, 4, 8], conv="standard")), "depthwise"),
    ("check_own_block", (SAFM(16),), "OSRA"),
    ("check_own_block", (lambda C: Series(SAFM(C), ChannelAdapter(C, 2 * C), OSRAttention(2 * C)),), "Adapter("),
])
def test_task_checks_reject_wrong_answers_without_giving_the_answer(check, args, leak):

    feedback = getattr(tasks, check)(*args)
    assert not feedback.correct and feedback.zh and feedback.en
    assert leak not in feedback.en and leak not in feedback.zh


def test_look_up_feedback_counts_right_answers_and_hints_only_the_wrong_ones():

    answers = {k: (c.order, c.combine) for k, c in tasks.CONNECTIONS.items()}
    answers["cbam_standard"] = ("parallel", "multiply")
    feedback = tasks.check_look_up(answers)
    assert not feedback.correct and feedback.en.startswith("3/4 right.")
    assert "cbam_standard:" in feedback.en and "msaa:" not in feedback.en and "sequential" not in feedback.en
    assert not tasks.check_look_up({"msaa": ("parallel", "add")}).correct
    assert "Cannot read" in tasks.check_look_up({k: ("side by side", "add") for k in answers}).en


def test_skip_check_reports_the_cost_of_a_projection_shortcut():

    mix = Parallel(SAFM(16), MFEBlock(16, [2, 4, 8]), fuse="msf")
    feedback = tasks.check_add_skip(Residual(mix, shortcut=ChannelAdapter(16, 16)))
    assert feedback.correct and "+272" in feedback.en  # 16*16 weights + 16 biases


def test_drop_sigmoid_example_respects_the_note_bounds_and_breaks_them_without_the_sigmoid():

    low, high = tasks.NOTE_BOUNDS
    assert round(low, 3) == 0.109 and round(high, 3) == 0.475
    xs = tasks.preference_inputs(8, strength=1.0)
    for weighting, inside in (("sigmoid_softmax", True), ("softmax", False)):
        block = tasks.confident_msf(MSFBlock(8, weighting=weighting), gain=20.0)
        w = trace(block, *xs, keep=True).tensors["weights"][..., 0]
        assert torch.allclose(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-5)
        assert ((w > low) & (w < high)).all() == inside
        best = w.argmax(-1)[0]
        assert best.tolist() == [c % 4 for c in range(8)]  # every channel picks its preferred input


def test_connection_table_claims_hold_in_the_blocks():
    """What task 4's answer says about who reads what, checked by changing the channel gate."""

    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8)
    # MSAA: the spatial gate ignores the channel gate (parallel), and the output is up(Fc + Fs).
    msaa = MSAA(16, 64).eval()
    before = trace(msaa, x[:, :4], x[:, 4:8], x[:, 8:], keep=True).tensors["fusion_conv.spatial_gate"]
    hook = msaa.fusion_conv.channel_attention.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
    after = trace(msaa, x[:, :4], x[:, 4:8], x[:, 8:], keep=True).tensors["fusion_conv.spatial_gate"]
    hook.remove()
    assert torch.equal(before, after)
    # standard CBAM: the spatial conv reads the channel-gated x (sequential).
    std = StandardCBAM(16, 4).eval()
    seen = []
    std.spatial_conv.register_forward_hook(lambda m, i, o: seen.append(i[0].clone()))
    std(x)
    std.mlp[-1].bias.data.fill_(-5.0)
    std(x)
    assert not torch.allclose(seen[0], seen[1])
    # the CBAM variant returns two products of x; MSF's weights have no spatial axis.
    out1, out2 = CBAMBlock(16, 4, 7, HW=64)(x)
    assert out1.shape == out2.shape == x.shape
    weights = trace(MSFBlock(16).eval(), x, x, x, x, keep=True).tensors["weights"]
    assert weights.shape == (2, 16, 4, 1)
    assert [c.order for c in tasks.CONNECTIONS.values()] == ["parallel", "parallel", "sequential", "channel only"]
    assert "<table>" in tasks.connection_table()


def test_task_lookup_names_the_valid_numbers():
    with pytest.raises(ValueError, match=r"remix_tasks.task: n must be one of \[1, 2, 3, 4, 5\]"):
        tasks.task(6)


def test_tasks_follow_the_exercise_pattern_none_is_not_answered_yet():
    for n in range(1, 6):
        feedback = tasks.task(n).check(None)
        assert not feedback.answered and not feedback.correct and "answer = None" in feedback.en


def test_revealed_solutions_run_and_pass_their_own_task():
    msf_mix = Parallel(SAFM(16), MFEBlock(16, [2, 4, 8]), fuse="msf")
    names = {"msf_mix": msf_mix, "C": 8, "SAFM": SAFM, "MFEVariant": MFEVariant, "MSFBlock": MSFBlock,
             "Residual": Residual, "Series": Series, "OSRAttention": OSRAttention}
    for n in range(1, 6):
        ex = tasks.task(n)
        answer = eval(ex.reveal().answer, names)  # the shown solution is code a student can paste
        assert ex.check(answer).correct, n


def test_swap_task_asks_for_a_pair_and_student_errors_become_feedback():
    feedback = tasks.task(3).check(SAFM(32, pool="avg"))
    assert not feedback.correct and feedback.answered and "pair" in feedback.en

    def broken(C):
        return 1 / 0

    feedback = tasks.task(5).check(broken)
    assert not feedback.correct and "ZeroDivisionError" in feedback.en


def test_own_block_task_wants_something_other_than_the_labs_examples():
    for name, build in tasks.LAB_EXAMPLES.items():
        assert tasks.check_own_block(build(16)).correct is False, name
        assert name in tasks.check_own_block(build).en
    # the same parts wired another way is new
    assert tasks.check_own_block(lambda C: Series(OSRAttention(C), SAFM(C))).correct


def test_task_shows_in_the_course_language_with_the_other_folded():
    from fusion_edu.lang import set_lang

    previous = set_lang("zh")
    try:
        page = tasks.task(2)._repr_html_()
        assert page.index("任务 2 · 删") < page.index("<details") < page.index("Delete the sigmoid")
        set_lang("en")
        page = tasks.task(2)._repr_html_()
        assert "Task 2 · delete" in page and page.index("Delete the sigmoid") < page.index("<details")
        assert str(tasks.task(2)).startswith("Task 2 · delete")
    finally:
        set_lang(previous)
