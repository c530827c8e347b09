"""SAFM's aliasing figure: what pooling and nearest upsampling alone make of a 1-px line."""

import io
import re
import warnings

import matplotlib.pyplot as plt
import pytest
import torch

from fusion_edu import lang
from fusion_edu.plots.safm import line_response, safm_aliasing

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_a_divisible_size_gives_each_line_exactly_its_own_block():
    reached = line_response(32) > 0  # level 2: pooled to 8, blocks of 4 px
    for column in range(32):
        block = column // 4 * 4
        assert reached[column].nonzero().flatten().tolist() == list(range(block, block + 4))


def test_an_odd_size_makes_some_lines_light_two_blocks():
    counts = (line_response(30) > 0).sum(dim=1)  # level 2: 30 // 4 = 7 uneven, overlapping windows
    assert set(counts.tolist()) == {4, 5, 8, 9}
    assert torch.nonzero(counts >= 8).flatten().tolist() == [4, 8, 12, 17, 21, 25]


def test_level_zero_is_not_pooled():
    with pytest.raises(ValueError, match="line_response: level must be a pooled level"):
        line_response(32, level=0)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_figure_draws_in_the_course_language(language):
    before = lang.get_lang()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = safm_aliasing(lang=language)
        fig.savefig(io.BytesIO(), format="png", dpi=40)
    assert not [w for w in caught if "missing from font" in str(w.message)]
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 3 and "30" in titles[1]
    assert bool(CJK.search(" ".join(titles))) == (language == "zh")
    assert lang.get_lang() == before
    plt.close("all")
