"""Command line: ``python -m fusion_edu list``, ``... trace KEY --C 64 ...`` and ``... autotrace FILE.py:Class ...``."""

from __future__ import annotations

import argparse
import sys

from .autotrace import add_cli as add_autotrace_cli
from .autotrace import run_cli as run_autotrace_cli
from .blocks import BLOCKS, DIMS, meta_trace
from .lang import LANGS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fusion_edu", description="Trace the note's fusion blocks.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the catalog of blocks")
    trace = sub.add_parser("trace", help="print a block's shape trace (built on the meta device)")
    trace.add_argument("key", choices=list(BLOCKS), help="block key")
    trace.add_argument("--lang", choices=LANGS, default=None,
                       help="language of the step labels (default: $FUSION_EDU_LANG, else zh)")
    for dim in DIMS:
        trace.add_argument(f"--{dim.name}", type=int, help=f"{dim.en} ({dim.zh})")
    names = {}
    for spec in BLOCKS.values():
        for hyper in spec.hypers:
            names.setdefault(hyper.name, hyper)
    for name, hyper in names.items():
        kind = type(hyper.default)
        trace.add_argument(f"--{name}", type=kind, help=f"{hyper.en} ({hyper.zh}); not every block has it")
    add_autotrace_cli(sub)  # python -m fusion_edu autotrace file.py:Class --C 64 ...
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        for key, spec in BLOCKS.items():
            hypers = ", ".join(f"{h.name}={h.default}" for h in spec.hypers)
            print(f"{key:13s} {spec.source_name:13s} {spec.title_en} / {spec.title_zh}")
            print(f"{'':13s} {spec.paper.venue} {spec.paper.year}, arXiv {spec.paper.arxiv}; {spec.layout}; {hypers}")
        return 0
    if args.command == "autotrace":
        return run_autotrace_cli(args)
    spec = BLOCKS[args.key]
    own = {h.name for h in spec.hypers} | {d.name for d in DIMS}
    values = {k: v for k, v in vars(args).items() if v is not None and k not in ("command", "key", "lang")}
    foreign = sorted(set(values) - own)
    if foreign:
        print(f"{spec.cls.__name__}: options must be among {sorted(own)}; got {foreign}. "
              f"`{args.key}` does not take them.", file=sys.stderr)
        return 2
    try:
        result = meta_trace(args.key, strict=True, lang=args.lang, **values)
    except (ValueError, TypeError) as e:
        print(e, file=sys.stderr)
        return 2
    print(result.to_text())
    print("output:", ", ".join(str(s) for s in result.output_shapes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
