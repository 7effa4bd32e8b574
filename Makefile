# slot-tagger: `make run` sets up and tags with the default model (training it first when absent);
# `make test` runs the tests. Every target builds the pinned virtualenv first.

PYTHON   := .venv/bin/python
DATA_DIR ?= ../shared/data
MODEL    ?= default
SPLIT    ?= test
IN       ?= -
OUT      ?= -
CONFIGS  := atis snips ewt default
export DATA_DIR

.PHONY: setup data train train-all model eval tag run test bench clean-models

setup: .venv/installed

.venv/installed: requirements.txt
	test -x $(PYTHON) || python3 -m venv .venv
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

data: setup
	$(PYTHON) -m data.check_data

train: data
	$(PYTHON) -m training.pipeline --config training/configs/$(MODEL).toml

train-all: data
	for name in $(CONFIGS); do $(PYTHON) -m training.pipeline --config training/configs/$$name.toml || exit 1; done

# Trains models/$(MODEL) only when it has no exported version yet.
model: setup
	@if ls -d models/$(MODEL)/[0-9]* >/dev/null 2>&1; then \
		echo "using models/$(MODEL) (newest version)"; \
	else \
		echo "models/$(MODEL) has no trained version yet: training it now (a few minutes)"; \
		$(MAKE) --no-print-directory train MODEL=$(MODEL); \
	fi

eval: setup
	$(PYTHON) -m training.evaluate --model models/$(MODEL) --split $(SPLIT)

tag: model
	$(PYTHON) -m service.cli tag --model models/$(MODEL) --input $(IN) --output $(OUT)

run: model
	$(PYTHON) -m service.cli tag --model models/$(MODEL) --input data/examples.txt

test: setup
	$(PYTHON) -m pytest -q tests

bench: setup
	$(PYTHON) -m tests.bench_models
	$(PYTHON) -m tests.bench_cli --model models/ewt --make-input
