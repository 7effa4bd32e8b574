# slot-tagger: `make serve` sets up and serves the default model (training it first when absent);
# `make test` runs the tests. Every target builds the pinned virtualenv first.
# `make train DATA=nlu.yml NAME=mybot [DEV=dev.yml] [TEST=test.yml] [CONFIG=overrides.toml]` trains on
# Rasa NLU data (files or folders, relative to the current directory) with training/configs/chatbot.toml.

PYTHON   := .venv/bin/python
DATA_DIR ?= ../shared/data
MODEL    ?= default
SPLIT    ?= test
IN       ?= -
OUT      ?= -
CONFIGS  := atis snips ewt default
export DATA_DIR

.PHONY: setup data train train-all model eval tag serve test bench soak ablation

setup: .venv/installed

.venv/installed: requirements.txt
	test -x $(PYTHON) || python3 -m venv .venv
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

data: setup
	$(PYTHON) -m data.check_data

ifdef DATA
RASA_ARGS := --rasa-data '$(DATA)' $(if $(NAME),--name '$(NAME)') $(if $(DEV),--rasa-dev '$(DEV)') \
	$(if $(TEST),--rasa-test '$(TEST)') $(if $(CONFIG),--config '$(CONFIG)')
# Rasa data needs no benchmark datasets, so no `make data` first.
train: setup
	$(PYTHON) -m training.pipeline $(RASA_ARGS)
else
train: data
	$(PYTHON) -m training.pipeline --config training/configs/$(MODEL).toml
endif

train-all: data
	for name in $(CONFIGS); do $(PYTHON) -m training.pipeline --config training/configs/$$name.toml || exit 1; done

# Trains models/$(MODEL) only when it has no exported version yet.
model: setup
	@if ls -d models/$(MODEL)/[0-9]* >/dev/null 2>&1; then \
		echo "using models/$(MODEL) (newest version)"; \
	else \
		echo "models/$(MODEL) has no trained version yet: training it now (about 3 minutes on 2 cores; the trainer prints its estimate for this machine after two epochs)"; \
		$(MAKE) --no-print-directory train MODEL=$(MODEL); \
	fi

# `make eval MODEL=mybot TEST=test.yml [OUT=folder]` writes a report like `rasa test nlu`'s
# (beside the model, in models/mybot/<version>/evaluation/test/, without OUT); without TEST,
# it prints the metrics of the model's own SPLIT.
eval: setup
	$(PYTHON) -m training.evaluate --model models/$(MODEL) $(if $(TEST),--rasa-test '$(TEST)' 		$(if $(filter-out -,$(OUT)),--out '$(OUT)'),--split $(SPLIT))

tag: model
	$(PYTHON) -m service.cli tag --model models/$(MODEL) --input $(IN) --output $(OUT)

# Serves models/$(MODEL) with gunicorn on SLOT_TAGGER_HOST:SLOT_TAGGER_PORT (default 127.0.0.1:8000),
# training it first when it has no version. Settings: SLOT_TAGGER_* variables (README).
serve: model
	SLOT_TAGGER_MODEL=models/$(MODEL) exec .venv/bin/gunicorn -c service/gunicorn.conf.py service.wsgi:app

test: setup
	$(PYTHON) -m pytest -q tests

# 100,000 mixed good and bad requests from 16 clients against gunicorn serving models/$(MODEL) (not in CI;
# tests/test_soak.py is its short version). `make bench` runs it too and records it in BENCHMARKS.md.
soak: model
	$(PYTHON) -m tests.soak --model models/$(MODEL)

# Rewrites BENCHMARKS.md from the benchmark commands (needs models/atis, snips, ewt, default).
bench: setup
	bash tests/bench_all.sh

# Trains the recurrent-family grid on ATIS, two seeds a row (about 45 minutes on 2 cores; not in CI), and
# writes docs/ABLATION.md and docs/ablation.png. A run resumes from runs/ablation/results/: remove
# runs/ablation to start over, as after a code change.
ablation: data
	$(PYTHON) -m training.ablation
