#!/usr/bin/env bash
# Runs a command as on a fresh machine without Graphviz: `dot` hidden from PATH.
#   tools/without_dot.sh make test
# PATH becomes one temporary folder of links to every other program on PATH (the first of each
# name, as PATH lookup finds it). Stops with an error if `dot` can still be found, so a green run
# really ran without it.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
farm=$(mktemp -d "${TMPDIR:-/tmp}/fusion-edu-no-dot.XXXXXX")
trap 'rm -rf "$farm"' EXIT
IFS=: read -ra dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
  [ -d "$dir" ] || continue
  for exe in "$dir"/*; do
    name=${exe##*/}
    if [ "$name" != dot ] && [ -f "$exe" ] && [ -x "$exe" ] && [ ! -e "$farm/$name" ] && [ ! -L "$farm/$name" ]; then
      ln -s "$exe" "$farm/$name"
    fi
  done
done
export PATH=$farm
hash -r
if command -v dot >/dev/null 2>&1; then
  echo "without_dot: Graphviz 'dot' is still on PATH ($(command -v dot)); refusing to run" >&2
  exit 1
fi
echo "without_dot: Graphviz 'dot' hidden from PATH; running: $*" >&2
"$@"
