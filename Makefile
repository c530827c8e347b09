# make lab   - build .venv on first use, then open the notebooks in JupyterLab (127.0.0.1, token)
# make test  - build .venv on first use, then ruff, the unit tests and every notebook (nbmake)
# make browser - every notebook in JupyterLab in headless Chromium (needs Debian's chromium)
# make bench - side-by-side speed ratios, written to benchmarks/RESULTS.md
# make images - regenerate the pictures in images/
# make seeds - every training demo over 8 seeds, written to benchmarks/DEMO_SEEDS.md
# make cache - train every demo once (seed 0): metrics and before/after figures (zh, en) in fusion_edu/learn/cache
# make font  - rebuild the CJK font subset of the figures' Chinese text (fetches Noto Sans SC with npm)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TORCH := torch==2.13.0
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

.PHONY: lab test unit notebooks lint browser bench seeds images clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "fusion-edu needs Python >= 3.10; set PYTHON=python3.11 (for example)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

lab: $(STAMP)
	@command -v dot >/dev/null 2>&1 || echo "hint: Graphviz 'dot' not found, so graphs show as tables. Install it: sudo apt-get install graphviz | brew install graphviz | conda install -c conda-forge graphviz"
	@token=$$($(PY) -c 'import secrets; print(secrets.token_hex(24))'); \
	echo "JupyterLab: open http://127.0.0.1:8888/lab?token=$$token (or the next free port that it prints)"; \
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --ServerApp.ip=127.0.0.1 \
		--IdentityProvider.token=$$token $(ROOT_FLAG)

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

browser: $(STAMP)
	$(VENV)/bin/pytest tests/test_browser.py

bench: $(STAMP)
	$(PY) benchmarks/run.py

seeds: $(STAMP)
	$(PY) benchmarks/demo_seeds.py

images: $(STAMP)
	$(PY) tools/make_images.py

.PHONY: cache font
cache: $(STAMP)
	$(PY) tools/make_cache.py

font: $(STAMP)
	$(PY) tools/make_font.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
