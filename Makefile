# make lab   - build .venv on first use, then open the notebooks in JupyterLab (127.0.0.1, token)
# make test  - build .venv on first use, then ruff, the unit tests and every notebook (nbmake)
# make test-nodot - make test again with Graphviz's `dot` hidden from PATH, as on a fresh machine without it
# make browser - every notebook in JupyterLab in headless Chromium (needs Debian's chromium)
# make bench - side-by-side speed ratios, written to benchmarks/RESULTS.md
# make present - the classroom dashboard (Voilà, code hidden) on 127.0.0.1 with a token; prints its URL
# make latency - drag latency and cold start of the dashboard in headless Chromium, into benchmarks/RESULTS.md
# make load - a class of 20 opens the dashboard at once (headless Chromium): first page, slider latency, kernel
#              memory, failures, into benchmarks/RESULTS.md; LOAD_ARGS="--sessions 5" and more: see its --help
# make slides - one static reveal.js deck per block notebook (executed, code hidden) in artifacts/slides/
# make images - regenerate the pictures in images/
# make seeds - every training demo over 8 seeds, written to benchmarks/DEMO_SEEDS.md
# make golden - rewrite tests/golden/<block>.txt (each trace at the note's sizes); review the diff
# make lock  - re-resolve requirements.lock after editing pyproject.toml, keeping every other pin
# make upgrade - move every pin in requirements.lock to its newest release (torch stays where it is)
#
# Installs are locked: .venv gets exactly the versions in requirements.lock (every dependency, runtime
# and dev, made by pip-compile on CPython 3.11, Linux x86_64), and a changed lock reinstalls.
# To add a dependency: put it in pyproject.toml (dependencies, or the dev extra), run `make lock`, and
# commit both files; environment.yml installs the lock, so it needs no edit. To move torch:
# `make upgrade TORCH=torch==X.Y.Z`.
# make cache - train every demo once (seed 0): metrics and before/after figures (zh, en) in fusion_edu/learn/cache
# make font  - rebuild the CJK font subset of the figures' Chinese text (fetches Noto Sans SC with npm)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LOCK := requirements.lock
# torch's version is the lock's; its CPU build comes from a wheel that pip's own configuration finds
# (no network), else from TORCH_INDEX. PyPI's torch for Linux is a multi-GB CUDA build.
TORCH := $(shell sed -n 's/^\(torch==[^ ;]*\).*/\1/p' $(LOCK))
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
LOCK_ARGS ?=
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --extra dev --allow-unsafe \
	--strip-extras --no-emit-options --annotation-style line $(LOCK_ARGS) --output-file $(LOCK) pyproject.toml

.PHONY: present latency load slides lab test test-nodot unit notebooks lint browser bench seeds images golden cache font lock upgrade _check-lock clean

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "fusion-edu needs Python >= 3.10; set PYTHON=python3.11 (for example)")'
	@test -n "$(TORCH)" || { echo "$(LOCK) pins no torch==: restore it (git checkout $(LOCK))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c $(LOCK) pip
	@# torch first, the CPU build: --no-deps, its dependencies come pinned with the rest
	$(PY) -m pip install -q --no-deps --no-index '$(TORCH)' 2>/dev/null || \
		$(PY) -m pip install -q --no-deps --index-url $(TORCH_INDEX) '$(TORCH)'
	$(PY) -m pip install -q -c $(LOCK) -e '.[dev]'
	@touch $(STAMP)

lab: $(STAMP)
	@command -v dot >/dev/null 2>&1 || echo "hint: Graphviz 'dot' not found, so graphs show as tables. Install it: sudo apt-get install graphviz | brew install graphviz | conda install -c conda-forge graphviz"
	@token=$$($(PY) -c 'import secrets; print(secrets.token_hex(24))'); \
	echo "JupyterLab: open http://127.0.0.1:8888/lab?token=$$token (or the next free port that it prints)"; \
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.ip=127.0.0.1 \
		--IdentityProvider.token=$$token $(ROOT_FLAG)

# Server settings live in tools/present.py (SETTINGS, voila_command): one place for limits and culling too.
present: $(STAMP)
	$(PY) tools/present.py $(PRESENT_ARGS)

latency: $(STAMP)
	$(PY) benchmarks/present_latency.py

# Bounded: it stops by itself (--timeout, 900 s by default) and stops every kernel it started.
load: $(STAMP)
	$(PY) benchmarks/load_test.py $(LOAD_ARGS)

slides: $(STAMP)
	$(PY) tools/slides.py build

lint: $(STAMP)
	$(VENV)/bin/ruff check fusion_edu tests benchmarks tools

unit: $(STAMP)
	$(VENV)/bin/pytest --doctest-modules tests fusion_edu -m "not browser"

notebooks: $(STAMP)
ifneq ($(NOTEBOOKS),)
	$(VENV)/bin/pytest --nbmake --nbmake-timeout=300 $(NOTEBOOKS)
else
	@echo "no notebooks yet"
endif

test: lint unit notebooks

# The README promises that every notebook runs without Graphviz; this keeps the promise tested.
test-nodot: $(STAMP)
	./tools/without_dot.sh $(MAKE) test

browser: $(STAMP)
	$(VENV)/bin/pytest tests/test_browser.py

bench: $(STAMP)
	$(PY) benchmarks/run.py

seeds: $(STAMP)
	$(PY) benchmarks/demo_seeds.py

images: $(STAMP)
	$(PY) tools/make_images.py

golden: $(STAMP)
	$(PY) tools/golden.py

# pip-compile comes from the lock too; it needs no full install, so a pyproject edit that the old
# lock cannot satisfy can still be locked.
$(VENV)/bin/pip-compile: $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c $(LOCK) pip pip-tools
	@touch $@

lock: $(VENV)/bin/pip-compile
	$(PIP_COMPILE) --upgrade-package '$(TORCH)'
	@$(MAKE) --no-print-directory _check-lock

upgrade: $(VENV)/bin/pip-compile
	$(PIP_COMPILE) --upgrade --upgrade-package '$(TORCH)'
	@$(MAKE) --no-print-directory _check-lock
	@echo "Review the new pins: git diff $(LOCK) (one line per package: old and new version, and who needs it)."
	@echo "Then: make test (reinstalls from the new lock), and commit $(LOCK) if it passes."

# The lock pins torch's version, not its build: drop the local label (+cpu) of the wheel it was
# resolved from, so the same line fits the CPU index on any platform; and never CUDA packages.
_check-lock:
	@sed -i -E 's/^(torch==[0-9][^ +;]*)\+[a-z0-9]+( +#)?/\1\2/' $(LOCK)
	@if grep -nE '^(nvidia-|triton)' $(LOCK); then \
		echo "$(LOCK) pulled CUDA packages: resolve against the CPU build, e.g." \
			"make lock LOCK_ARGS='--extra-index-url $(TORCH_INDEX)'"; exit 1; fi
	@echo "$(LOCK): $$(grep -cE '^[A-Za-z0-9][A-Za-z0-9._-]*==' $(LOCK)) packages pinned," \
		"$$(grep -oE '^torch==[^ ]+' $(LOCK))"

cache: $(STAMP)
	$(PY) tools/make_cache.py

font: $(STAMP)
	$(PY) tools/make_font.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
