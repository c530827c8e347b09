"""`python -m fusion_edu list | trace ...`: a terminal view of the catalog and of a trace."""

import subprocess
import sys

import pytest

from fusion_edu import BLOCKS
from fusion_edu.__main__ import main


def test_list_prints_every_block(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for key, spec in BLOCKS.items():
        assert key in out and spec.source_name in out and spec.title_zh in out and spec.paper.arxiv in out


@pytest.mark.parametrize("lang,present,absent", [("both", ["中文", "English"], []),
                                                  ("zh", ["步骤", "符号"], ["English", "symbols"]),
                                                  ("en", ["step", "symbols"], ["中文", "符号"])])
def test_trace_osra_in_each_language(capsys, lang, present, absent):
    assert main(["trace", "osra", "--C", "64", "--H", "32", "--W", "32", "--num_heads", "8", "--lang", lang]) == 0
    out = capsys.readouterr().out
    assert "(1, 8, 1024, 256)" in out and "H'=16" in out and "output: (1, 64, 32, 32)" in out
    assert all(word in out for word in present) and not any(word in out for word in absent)


def test_invalid_setting_prints_the_blocks_message_and_exits_2(capsys):
    assert main(["trace", "safm", "--C", "38"]) == 2
    err = capsys.readouterr().err
    assert "SAFM: dim must be divisible by n_levels; got dim=38, n_levels=4" in err and "Traceback" not in err


def test_option_of_another_block_is_refused(capsys):
    assert main(["trace", "safm", "--num_heads", "4"]) == 2
    assert "does not take them" in capsys.readouterr().err


def test_module_entry_point_runs_as_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "fusion_edu", "trace", "cbam_joint", "--kernel_size", "4"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "CBAMBlock: kernel_size must be odd" in done.stderr and "Traceback" not in done.stderr
