# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := 2.13.0
PYTEST_ARGS ?=

.PHONY: install demo test test-all bench clean

# torch goes in first and pinned: an unpinned torch pulls several GB of CUDA wheels.
# A venv that already has torch >= 2.6 keeps it.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -c "import torch, sys; v = tuple(int(p) for p in torch.__version__.split('+')[0].split('.')[:2]); sys.exit(v < (2, 6))" 2>/dev/null \
		|| $(PIP) install -q torch==$(TORCH)
	$(PIP) install -q -e ".[test]"
	@touch $@

install: $(VENV)/.installed

## The first run (about 3 minutes after the set-up): the zoo's conditional VAE recipe for 2 minutes of
## training into runs/cvae-mnist-NNN/ (samples.png: one digit per column), its FID next to the
## real-data floor, and the zoo model of the same recipe, trained longer, beside it.
demo: install
	@run=$$($(VENV)/bin/genzoo train --config recipes/cvae-mnist.yaml --minutes 2 --set train.grid_size=100) && \
	  echo "trained $$run; its samples: $$run/samples.png (one digit per column)" && \
	  $(VENV)/bin/genzoo evaluate $$run --metrics fid,label_accuracy --no-progress && \
	  echo "the same recipe trained longer, shipped with genzoo:" && \
	  $(VENV)/bin/genzoo zoo show cvae-mnist --summary

## The test suite (slow tests excluded; `make test-all` runs them too).
test: install
	$(PY) -m pytest -q -m "not slow" --durations=15 $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/trainer_overhead.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
