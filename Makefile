# Two commands on a fresh machine: `make demo` (train + evaluate SlowFast on the built-in
# synthetic dataset) and `make test`. Both create or reuse the virtualenv in $(VENV).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vjax-installed
WORKDIR ?= work_dirs/slowfast_k400_synthetic

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	# MMAction2 0.24.1's shipped config files, read as data by the config-walk tests;
	# --no-deps: none of its (PyTorch) dependencies.
	$(PY) -m pip install --no-deps mmaction2==0.24.1
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m vjax.main \
	  --config=configs/slowfast_k400.py:synthetic --workdir=$(WORKDIR)

test: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) work_dirs
