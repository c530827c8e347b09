"""`make font`: rebuild the CJK font subset that figures draw Chinese with, from the text they can draw.

1. Collects the text the package can draw in figures: the Chinese argument of every ``label(zh, en)``
   call in ``fusion_edu/plots/`` and ``fusion_edu/learn/figures.py`` (the fixed parts of f-strings
   included), the Chinese error message that the CBAM demo figure shows (the frame from
   ``fusion_edu/errors.py`` and the CBAM block's ``zh=`` texts), digits, ASCII and CJK punctuation.
2. Fetches Noto Sans SC (SIL Open Font License 1.1) at build time only: ``npm pack`` of the npm
   package @expo-google-fonts/noto-sans-sc into a temporary folder, or ``--source FILE`` with a
   TrueType Noto Sans SC / Source Han Sans SC you already have (then ``--license FILE`` too).
3. Keeps only those characters with fontTools (no hinting, no layout tables: matplotlib uses
   neither), renames the family to "Fusion Edu Sans SC" so it never shadows an installed Noto Sans
   SC, and writes ``fusion_edu/plots/fonts/FusionEduSansSC-Regular.ttf`` with its licence ``OFL.txt``.

Run it when figure labels change (``tests/test_plots_style.py`` fails when a character is missing):

    .venv/bin/python tools/make_font.py [--source NotoSansSC-Regular.ttf --license OFL.txt]
"""

from __future__ import annotations

import argparse
import ast
import string
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FONT_DIR = ROOT / "fusion_edu" / "plots" / "fonts"
FONT_NAME = "FusionEduSansSC-Regular.ttf"
FAMILY = "Fusion Edu Sans SC"
NPM_PACKAGE = "@expo-google-fonts/noto-sans-sc@0.4.3"
NPM_FONT = "package/400Regular/NotoSansSC_400Regular.ttf"
NPM_LICENSE = "package/LICENSE_FONT"

LABEL_SOURCES = ("fusion_edu/plots/*.py", "fusion_edu/learn/figures.py")
ERROR_FRAME = "fusion_edu/errors.py"  # the Chinese frame of every message: "<block>：<rule>；实际 ...。<hint>"
ERRORS_DRAWN = ("fusion_edu/blocks/cbam_joint.py",)  # the CBAM demo figure shows this block's size error
PUNCTUATION = "，。、：；！？（）《》“”‘’·—…×−≈→←≤≥±÷％"


def _strings(node: ast.AST) -> list[str]:
    """Every string constant inside `node` (for an f-string: its fixed parts)."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_label(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Name) and func.id == "label") or (isinstance(func, ast.Attribute)
                                                                   and func.attr == "label")


def _zh_argument(call: ast.Call) -> ast.AST | None:
    return call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "zh"), None)


def _literal(node: ast.AST) -> bool:
    """Whether the text of `node` is written out in the source: a string, an f-string, or `+`/`if` of them."""
    if isinstance(node, (ast.Constant, ast.JoinedStr)):
        return True
    if isinstance(node, ast.BinOp):
        return _literal(node.left) and _literal(node.right)
    if isinstance(node, ast.IfExp):
        return _literal(node.body) and _literal(node.orelse)
    return False


def label_texts(path: Path) -> list[str]:
    """The Chinese (first) argument of every ``label(zh, en)`` call in the file at `path`."""
    texts = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and _is_label(node) and (zh := _zh_argument(node)) is not None:
            texts.extend(_strings(zh))
    return texts


def opaque_labels(root: Path = ROOT) -> list[str]:
    """``file:line`` of every ``label(zh, en)`` whose Chinese text is not written out in the source.

    Their characters cannot be collected here, so each must be covered otherwise (the CBAM error
    message through `ERRORS_DRAWN`).
    """
    found = []
    for pattern in LABEL_SOURCES:
        for path in sorted(root.glob(pattern)):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and _is_label(node) and not _literal(_zh_argument(node)):
                    found.append(f"{path.relative_to(root).as_posix()}:{node.lineno}")
    return found


def error_texts(path: Path) -> list[str]:
    """The ``zh=`` and ``zh_hint=`` texts of the error calls in the file at `path`."""
    texts = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            texts.extend(s for k in node.keywords if k.arg in ("zh", "zh_hint") for s in _strings(k.value))
    return texts


def drawable_text(root: Path = ROOT) -> str:
    """All text the package's figures can draw, as one string (duplicates kept; order of the sources)."""
    parts = []
    for pattern in LABEL_SOURCES:
        for path in sorted(root.glob(pattern)):
            parts.extend(label_texts(path))
    parts.extend(s for s in _strings(ast.parse((root / ERROR_FRAME).read_text(encoding="utf-8")))
                 if any(ord(c) > 127 for c in s))
    for name in ERRORS_DRAWN:
        parts.extend(error_texts(root / name))
    return "".join(parts)


def characters(root: Path = ROOT) -> set[str]:
    """The characters the shipped font must hold: the drawable text, printable ASCII and CJK punctuation."""
    chars = set(drawable_text(root)) | set(string.printable.strip()) | {" "} | set(PUNCTUATION)
    return {c for c in chars if c.isprintable()}


def fetch_source(folder: Path) -> tuple[Path, Path]:
    """Downloads the npm package with Noto Sans SC into `folder`; returns (font, licence)."""
    subprocess.run(["npm", "pack", NPM_PACKAGE, "--pack-destination", str(folder)], check=True,
                   stdout=subprocess.DEVNULL)
    (archive,) = folder.glob("*.tgz")
    with tarfile.open(archive) as tar:
        tar.extractall(folder, members=[tar.getmember(NPM_FONT), tar.getmember(NPM_LICENSE)], filter="data")
    return folder / NPM_FONT, folder / NPM_LICENSE


def _rename(font, family: str) -> None:
    names = font["name"]
    postscript = family.replace(" ", "") + "-Regular"
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 6, 16, 17, 18, 21, 22):
            names.removeNames(nameID=record.nameID, platformID=record.platformID, langID=record.langID)
    for name_id, value in ((1, family), (2, "Regular"), (3, f"{postscript};fusion-edu subset"),
                           (4, f"{family} Regular"), (6, postscript)):
        names.setName(value, name_id, 3, 1, 0x409)
    names.setName(f"A subset of Noto Sans SC for the figures of fusion-edu, renamed {family}.", 10, 3, 1, 0x409)


def build(source: Path, license_file: Path, chars: set[str], out_dir: Path = FONT_DIR) -> Path:
    """Subsets `source` to `chars`, renames it and writes it with its licence into `out_dir`."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(source), recalcTimestamp=False)
    cmap = font.getBestCmap()
    missing = sorted(c for c in chars if ord(c) not in cmap and c != " ")
    if missing:
        print(f"not in the source font (figures would draw boxes): {''.join(missing)}", file=sys.stderr)
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.name_IDs = ["*"]
    options.name_languages = [0x409]
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "STAT", "vhea", "vmtx", "VORG", "DSIG", "gasp", "prep"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in chars if ord(c) in cmap))
    subsetter.subset(font)
    _rename(font, FAMILY)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FONT_NAME
    font.save(str(path), reorderTables=True)
    (out_dir / "OFL.txt").write_text(license_file.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help="a TrueType Noto Sans SC Regular (default: fetch it with npm)")
    parser.add_argument("--license", type=Path, help="its licence text (needed with --source)")
    parser.add_argument("--out", type=Path, default=FONT_DIR)
    args = parser.parse_args()
    chars = characters()
    with tempfile.TemporaryDirectory() as tmp:
        if args.source:
            if not args.license:
                parser.error("--license is needed with --source (the OFL text ships with the font)")
            source, license_file = args.source, args.license
        else:
            source, license_file = fetch_source(Path(tmp))
        path = build(source, license_file, chars, args.out)
    cjk = sum(1 for c in chars if ord(c) > 0x2E80)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size / 1024:.0f} KB,"
          f" {len(chars)} characters, {cjk} CJK)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
