# Everything a fresh Debian/Ubuntu machine with Python 3.11 needs: `make demo` and `make test`
# each create .venv (pinned dependencies from requirements.txt) when it is missing or out of date.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench typecheck extension clean venv

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# The main job on shipped defaults.
demo: $(STAMP)
	$(BIN)/lmm demo

# The whole suite, slow tests (every file of ../shared/data) and Blender tests included.
test: $(STAMP)
	$(BIN)/python -m pytest

# The quick loop while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/bvh_parse.py

# Type-check the add-on against the Blender 5.0 stubs, kept out of .venv because they shadow bpy.
typecheck: $(STAMP)
	@test -d .stubs || $(BIN)/pip install --quiet --target .stubs -r requirements-typing.txt
	PYTHONPATH=.stubs $(BIN)/python -m mypy --ignore-missing-imports addon lmm_core

extension: $(STAMP)
	$(BIN)/python build.py

clean:
	rm -rf build dist out .pytest_cache
