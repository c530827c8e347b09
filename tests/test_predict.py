"""Predict, then check: hidden shapes, given symbols, ✓ or a hint that never gives the number away."""

import pytest

from fusion_edu import BLOCKS, meta_trace, trace
from fusion_edu.predict import parse_shape, predict


def osra():
    model, inputs = BLOCKS["osra"].demo(device="meta")
    return trace(model, *inputs)


def test_the_asked_rows_and_every_later_one_are_hidden_and_only_input_names_given():
    p = predict(osra(), rows=[5, 13], lang="en")
    assert p.given == {"B": 1, "C": 64, "H": 7, "W": 7}  # nh, hd, H', W' are for the student to work out
    text = p.to_text()
    assert "(1, 64, 4, 4)" not in text and "(1, 8, 49, 16)" not in text  # nothing after row 5 gives it away
    assert "(1, 8, 49, 8)" in text  # row 4, before the first asked row, is shown
    html = p._repr_html_()
    assert html.count(">?<") == 2 and "H&#x27;*W&#x27;" in html and "(1, 8, 49, 16)" not in html
    assert "(1, 8, 49, 16)" in p.reveal().to_text()


def test_right_answers_in_any_notation_and_hints_on_a_miss():
    p = predict(osra(), rows=[5, 13], lang="en")
    assert p.check({5: "1x64x4x4", 13: (1, 8, 49, 16)}).correct
    miss = p.check([(1, 64, 7, 7), "(1, 8, 49, 49)"])
    assert miss.score == (0, 2)
    ok, zh, en = miss.results[13]
    assert not ok and en == "axis 4 is H'*W': work out H', W' first; your number is too big" and "16" not in zh
    assert miss.results[5][2].startswith("axis 3 is H': work out H' first; your number is too big (1 more")
    short = p.check({5: (1, 64, 4)}).results[5]
    assert short[2] == "wrong number of axes: this step has 4 (B C H' W'); you wrote 3"
    given_only = predict(meta_trace("safm", lang="en"), rows=[2], lang="en").check({2: (1, 36, 64, 64)})
    assert "compute it from the given names" in given_only.results[2][2]  # C//L: L is the block's n_levels


def test_unanswered_rows_and_bad_input_say_so():
    p = predict(osra(), rows=[13])
    assert p.check({13: None}).results[13][1] == "还没有回答"
    with pytest.raises(ValueError, match=r"predict: only rows \[13\] are asked; got row=2"):
        p.check({2: (1, 2)})
    with pytest.raises(ValueError, match=r"predict: a prediction must list whole numbers; got prediction='1, b'"):
        parse_shape("1, b")
    with pytest.raises(ValueError, match=r"predict: rows must be between 1 and 17"):
        predict(osra(), rows=[0])
    with pytest.raises(TypeError, match=r"predict: predict needs a Trace"):
        predict("osra")
