# The two commands a new user types:  `make demo`  and  `make test`.
# On a Jetson (scripts/is-jetson.sh; SEGCAM_JETSON=1/0 overrides) the venv sees the system's
# packages (JetPack's OpenCV with GStreamer, python3-gi) and pip installs requirements-jetson.txt.
# NVIDIA's onnxruntime GPU build:  make demo ORT_WHEEL=/path/onnxruntime_gpu-*.whl  (or ORT_INDEX=URL)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
OPENCV := $(shell grep '^opencv-python==' requirements.txt)
ORT_WHEEL ?=
ORT_INDEX ?=
# make test runs the suite in this many processes (pytest-xdist; each file stays in one process,
# so its module fixtures are built once).
TEST_WORKERS ?= 2

.PHONY: demo test lint bench train-env clean-venv check-wheels test-pythons FORCE

# Runtime only (no TensorFlow): what a Jetson installs. Redone when a GPU wheel is given.
$(VENV)/.runtime: requirements.txt requirements-jetson.txt pyproject.toml scripts/runtime-venv.sh \
		$(if $(ORT_WHEEL)$(ORT_INDEX),FORCE)
	@echo "== Debian packages for the runtime (GStreamer, venv; about 2.5 min when none is there yet)"
	scripts/system-deps.sh runtime
	ORT_WHEEL="$(ORT_WHEEL)" ORT_INDEX="$(ORT_INDEX)" scripts/runtime-venv.sh $(VENV)
	touch $@

# Everything: training, conversion, tests. albumentations pulls opencv-python-headless, which
# shares the cv2 module with opencv-python; reinstall the GUI build last so windows work.
$(VENV)/.dev: $(VENV)/.runtime requirements-train.txt requirements-test.txt requirements-dev.txt
	@echo "== Debian packages for training (tcmalloc)"
	scripts/system-deps.sh train
	@echo "== pip: TensorFlow, training and test tools from requirements-dev.txt (about 3 min the first time)"
	$(PIP) install -r requirements-dev.txt
	$(PIP) install -q --force-reinstall --no-deps $(OPENCV)
	touch $@

demo: $(VENV)/.runtime
	@echo "== the app on the shipped clip (media/camvid-val.mp4) with models/camvid-unet"
	$(VENV)/bin/segcam --config configs/app.yaml

test: $(VENV)/.dev
	@echo "== Debian packages for the tests (Xvfb, ffmpeg, shellcheck, systemd)"
	scripts/system-deps.sh test
	$(VENV)/bin/ruff check .
	@echo "== pytest: the whole suite in $(TEST_WORKERS) processes (about 10 min on 2 idle cores)"
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

train-env: $(VENV)/.dev

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	shellcheck scripts/*.sh systemd/*.sh .ci/run

# Every requirement has a wheel on the supported platforms (aarch64 3.10/3.12, x86-64); network.
check-wheels: $(VENV)/.runtime
	PIP=$(PIP) scripts/check-wheels.sh

# The runtime's tests under Python 3.10 and 3.12, each in a cached venv of its own.
test-pythons:
	scripts/test-pythons.sh

# Each prints its ratios; engines and pipeline run on the shipped bundle and clip.
bench: $(VENV)/.dev
	$(PY) bench/voc_encode.py
	$(PY) bench/loader.py
	$(PY) bench/train_step.py
	$(PY) bench/overlay.py
	$(PY) bench/engines.py --bundle models/camvid-unet
	$(PY) bench/pipeline.py
	$(PY) bench/capacity.py

FORCE:

clean-venv:
	rm -rf $(VENV)
