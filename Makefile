# The two commands a new user types:  `make demo`  and  `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
OPENCV := $(shell grep '^opencv-python==' requirements.txt)

.PHONY: demo test lint bench train-env clean-venv

# Runtime only (no TensorFlow): what a Jetson installs.
$(VENV)/.runtime: requirements.txt
	scripts/system-deps.sh runtime
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

# Everything: training, conversion, tests. albumentations pulls opencv-python-headless, which
# shares the cv2 module with opencv-python; reinstall the GUI build last so windows work.
$(VENV)/.dev: $(VENV)/.runtime requirements-train.txt requirements-dev.txt
	scripts/system-deps.sh train
	$(PIP) install -q -r requirements-dev.txt
	$(PIP) install -q --force-reinstall --no-deps $(OPENCV)
	touch $@

demo: $(VENV)/.runtime
	$(PY) -m app --config configs/app.yaml

test: $(VENV)/.dev
	scripts/system-deps.sh test
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

train-env: $(VENV)/.dev

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	shellcheck scripts/*.sh systemd/*.sh .ci/run

# Each prints its ratios; engines and pipeline run on the shipped bundle and clip.
bench: $(VENV)/.dev
	$(PY) bench/voc_encode.py
	$(PY) bench/loader.py
	$(PY) bench/train_step.py
	$(PY) bench/overlay.py
	$(PY) bench/engines.py --bundle models/camvid-unet
	$(PY) bench/pipeline.py

clean-venv:
	rm -rf $(VENV)
