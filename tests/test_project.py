"""The project's promises about itself: set-up files in step, notebooks committed clean, README commands."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    return {re.split(r"[<>=!~ ]", d, maxsplit=1)[0].lower(): d for d in deps}


def _environment_requirements():
    names = {}
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"\s+-\s+([A-Za-z0-9_.-]+)(.*)$", line)
        if m:
            names[m.group(1).lower()] = m.group(1) + m.group(2).strip()
    return names


# conda-forge names for the same packages
CONDA_NAMES = {"torch": "pytorch", "graphviz": "python-graphviz"}


def test_environment_yml_has_the_same_packages_and_bounds_as_pyproject():
    pip, conda = _pyproject_requirements(), _environment_requirements()
    for name, requirement in pip.items():
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"{conda_name} missing from environment.yml"
        bound = requirement[len(name):]
        assert conda[conda_name] == conda_name + bound, (conda[conda_name], requirement)
    assert "graphviz" in conda  # the dot binary itself
    extra = set(conda) - {CONDA_NAMES.get(n, n) for n in pip} - {"python", "graphviz"}
    assert not extra, f"environment.yml has packages pyproject.toml lacks: {extra}"


def test_notebooks_are_committed_without_outputs():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs", []) == [], f"{path.name} has outputs"
                assert cell.get("execution_count") is None, f"{path.name} has execution counts"
        assert "widgets" not in nb.get("metadata", {}), f"{path.name} keeps widget state"


def test_readme_gives_the_two_commands_first():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.index("make lab") < text.index("## ") or text.index("make lab") < 2000
    assert "make test" in text


def test_makefile_pins_torch_before_the_project_and_serves_on_localhost_with_a_token():
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert make.index("torch==") < make.index("-e '.[dev]'")
    assert "--ServerApp.ip=127.0.0.1" in make and "--IdentityProvider.token=" in make
    assert "--allow-root" in make and 'id -u' in make


def test_every_image_the_readme_and_notebooks_show_exists():
    texts = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        texts[path.name] = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    referenced = 0
    for name, text in texts.items():
        base = ROOT if name == "README.md" else ROOT / "notebooks"
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)|<img[^>]+src=\"([^\"]+)\"", text):
            target = next(t for t in target if t)
            if target.startswith(("http://", "https://", "data:", "attachment:")):
                continue
            referenced += 1
            assert (base / target).is_file(), f"{name} shows {target}, which does not exist"
    assert referenced >= 9  # the README's explorer screenshot, one graph and seven training figures


def test_every_file_the_readme_links_to_exists():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = [t for t in re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", text) if not t.startswith(("http", "#"))]
    assert len(links) >= 11  # nine notebooks and the two benchmark results
    missing = [t for t in links if not (ROOT / t).is_file()]
    assert not missing, f"README links to missing files: {missing}"
