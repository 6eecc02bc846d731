# vidcurate: two commands do everything on a fresh machine with Python 3.11.
#   make demo   set up .venv, copy real sample footage, run the CPU pipeline on it
#   make test   set up .venv and run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# PP-OCR weights for the on-screen-text filter; --no-deps: its opencv-python would replace cv2 headless
	$(BIN)/python -m pip install --quiet --no-deps 'rapidocr-onnxruntime>=1.3,<2'
	touch $@

demo: setup
	$(BIN)/vidcurate samples samples
	$(BIN)/vidcurate run pipelines/local.yaml --input samples --output out/demo

test: setup
	$(BIN)/python -m pytest -q -rs

bench: setup
	# imageio-ffmpeg: the ffmpeg binary PySceneDetect's split-video baseline needs
	$(BIN)/python -m pip install --quiet 'imageio-ffmpeg>=0.5'
	$(BIN)/python bench/throughput.py $(if $(wildcard ../shared/footage),--footage ../shared/footage)

clean:
	rm -rf out samples
