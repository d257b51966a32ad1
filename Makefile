# Everything a fresh Debian/Ubuntu machine with Python 3.11 needs: `make demo` and `make test`
# each create .venv (pinned dependencies from requirements.txt) when it is missing or out of date.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-blender42 bench typecheck extension clean venv capture-deps

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# Video input for `lmm capture` (BlazePose via MediaPipe, OpenCV) in .venv: the `capture` extra alone
# (`make venv` installs it too, with the test pins).
capture-deps: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check "numpy==1.26.4" -e ".[capture]"

# The main job on shipped defaults.
demo: $(STAMP)
	$(BIN)/lmm demo

# The whole suite, slow tests (every file of ../shared/data) and Blender tests included.
test: $(STAMP)
	$(BIN)/python -m pytest

# The quick loop while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# The extension's tests in Blender 4.2 LTS, the oldest Blender it supports (blender_version_min), in a venv
# of their own, .venv42: bpy 4.2.0 and the non-torch pins of requirements.txt. Not part of `make test`.
VENV42 := .venv42
STAMP42 := $(VENV42)/.installed
ADDON_TESTS := $(sort $(wildcard tests/test_addon_*.py tests/test_*_addon.py))

$(STAMP42): requirements.txt pyproject.toml
	@test -x $(VENV42)/bin/python || $(PY) -m venv $(VENV42)
	$(VENV42)/bin/pip install --quiet --disable-pip-version-check bpy==4.2.0 \
		$$(grep -E '^(numpy|pytest|tqdm|matplotlib|pillow)==' requirements.txt)
	$(VENV42)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP42)

# One process per file: the suite re-enables the extension for every test, and after about 60 such cycles in one
# bpy 4.2.0 process garbage collection met a corrupted code object of an earlier copy and segfaulted (3 of 11
# one-process runs; never in one file's run, nor in bpy 5.0.1). docs/addon.md, Tests.
test-blender42: $(STAMP42)
	@status=0; for f in $(ADDON_TESTS); do $(VENV42)/bin/python -m pytest -q $$f || status=1; done; exit $$status

bench: $(STAMP)
	$(BIN)/python benchmarks/bvh_parse.py

# Type-check against the Blender 5.0 stubs. They shadow the real bpy and use Python 3.12 syntax, so
# they live in their own Python 3.12 environment, .venv-typing.
TPY ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12))
typecheck:
	@test -n "$(TPY)" || { echo "make typecheck needs python3.12 (the Blender 5.0 stubs use its syntax)"; exit 2; }
	@test -x .venv-typing/bin/mypy || { $(TPY) -m venv .venv-typing && .venv-typing/bin/pip install --quiet -r requirements-typing.txt numpy==1.26.4; }
	.venv-typing/bin/mypy addon lmm_core

extension: $(STAMP)
	$(BIN)/python build.py

clean:
	rm -rf build dist out .pytest_cache
