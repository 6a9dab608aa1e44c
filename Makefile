# One-command setup, demo and tests. `make install` is idempotent and only
# re-runs when setup.py or this Makefile change.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# CPU wheel by default; another build (torch >= 2.6), e.g. `make install TORCH="torch==2.9.1"`.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.sgdetr-installed
DEMO_DIR ?= work_dirs/demo

.PHONY: install test demo benchmark ablation clean

install: $(STAMP)

$(STAMP): setup.py Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel
	$(PIP) install -q "$(TORCH)" numpy scipy "mmengine==0.10.7"
	# mmcv 2.1.0 has no wheel for recent torch: build it with its compiled ops.
	# Its setup.py needs pkg_resources, gone from setuptools>=70.
	$(PIP) install -q "setuptools<70"
	$(PY) -c "import mmcv.ops" 2>/dev/null || \
		MMCV_WITH_OPS=1 MAX_JOBS=$${MAX_JOBS:-2} $(PIP) install --no-build-isolation "mmcv==2.1.0"
	$(PIP) install -q "mmdet==3.3.0" pytest
	$(PIP) install -q --no-build-isolation -e ".[tests]"
	$(PY) -c "import sgdetr, mmcv.ops; print('sgdetr', sgdetr.__version__, 'installed')"
	touch $(STAMP)

test: install
	$(PY) -m pytest -q tests

demo: install
	$(PY) tools/demo.py --work-dir $(DEMO_DIR)

benchmark: install
	$(PY) tools/analysis/benchmark.py

ablation: install
	$(PY) tools/analysis/run_ablation.py

clean:
	rm -rf $(VENV) build *.egg-info work_dirs
