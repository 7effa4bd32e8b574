#!/usr/bin/env bash
# `make bench`: rewrites BENCHMARKS.md from the output of the commands it names (needs trained models).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DATA_DIR="${DATA_DIR:-../shared/data}" TF_CPP_MIN_LOG_LEVEL=2
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB, no GPU"
models=$(.venv/bin/python -m tests.bench_models 2>/dev/null)
cli=$(.venv/bin/python -m tests.bench_cli --model models/ewt --make-input 2>/dev/null | tail -1)
cli_default=$(.venv/bin/python -m tests.bench_cli --model models/default --make-input 2>/dev/null | tail -1)
cat > BENCHMARKS.md <<MD
# Benchmarks

Every figure below is printed by the command written above it; nothing is typed by hand.
Measured on $(date -u +%Y-%m-%d) on: ${machine}. Shared, noisy machines: throughputs are medians.

## Models (test sets; chosen on dev only)

Command: \`.venv/bin/python -m tests.bench_models\` (reads each model's \`metadata.json\`, written by
\`make train-all\`, which evaluated the exported serving function on dev and test).

${models}

Targets from the issue: ATIS slot F1 ≥ 95.5 and intent ≥ 97.5; SNIPS slot F1 ≥ 93.0 and intent ≥ 98.0;
EWT UPOS ≥ 95.0; default the ATIS and EWT targets; unseen-city gap ≤ 3 points; model ≤ 20 MB;
training (issue 20) at least 4× faster than the baseline commit, \`default\` ≤ 3 min and \`atis\` ≤ 1.5 min,
peak memory < 4 GB, no run cut short. See the issues' notes for which are met.

## Batch CLI throughput and memory

Command: \`DATA_DIR=../shared/data .venv/bin/python -m tests.bench_cli --model models/ewt --make-input\`
(EWT train sentences, pretokenized, one process, model load excluded from the throughput;
peak RSS is a separate \`service.cli tag\` process, model load included; median of 3 runs):

\`\`\`json
${cli}
\`\`\`

The same with the three-head default model (\`--model models/default\`):

\`\`\`json
${cli_default}
\`\`\`
MD

# Training: trains every config again (in a scratch folder) and times the baseline commit's code in the same run.
training=$(.venv/bin/python -m tests.bench_training 2>/dev/null)
cat >> BENCHMARKS.md <<MD

## Training speed, peak memory and reproducibility

Command: \`DATA_DIR=../shared/data .venv/bin/python -m tests.bench_training\` (in one run: one epoch
of the baseline commit's training code and of today's, timed by \`tests/profile_training.py\`; the
baseline's time is its recorded epochs × steps per epoch × the median seconds per step measured
now, without dev scoring or graph tracing, so the speed-up is a lower bound; today's configs
trained in full in child processes, peak RSS from \`wait4\`; "same metrics" compares that run's
\`metadata.json\` metrics with the \`models/<name>\` export of the same config, trained earlier by
\`make train-all\`):

${training}
MD

# REST service: the benchmark starts and stops its own gunicorn (2 workers) on a free loopback port.
rest=$(.venv/bin/python -m tests.bench_http --model models/default 2>/dev/null | tail -1)
cat >> BENCHMARKS.md <<MD

## REST service

Command: \`DATA_DIR=../shared/data .venv/bin/python -m tests.bench_http --model models/default\`
(gunicorn with \`service/gunicorn.conf.py\`, 2 gthread workers, on a free 127.0.0.1 port; ATIS test
sentences; start-up is the time to the first 200 from \`/readyz\`; one keep-alive client for 20 s,
then 16 keep-alive client threads for 20 s, then \`/v1/parse/batch\` with 64 sentences per request
from 1 and 2 clients; then Rasa's \`/model/parse\` against \`/v1/parse\` from one client, phases
alternated 3 times, ratio of the median p50s; then one client while 32 slow clients trickle
their headers or body a byte every 0.2 s; worker RSS after the load; then, in the same run and with the server stopped,
the in-process \`Predictor.tag_texts\` on the same sentences for comparison; \`server_*\` figures
come from the server's \`/metrics\`, CPU figures from \`/proc\`; targets with pass/fail at the end):

\`\`\`json
${rest}
\`\`\`
MD

# Paired against spaCy: trains models/spacy-ewt-tagger first if it is absent (a few minutes).
paired=$(.venv/bin/python -m tests.bench_vs_spacy --model models/ewt --rest-model models/default 2>/dev/null | tail -1)
cat >> BENCHMARKS.md <<MD

## Paired against spaCy's CNN tagger

Command: \`DATA_DIR=../shared/data .venv/bin/python -m tests.bench_vs_spacy --model models/ewt --rest-model models/default\`
(spaCy's \`tok2vec\` + \`tagger\` from \`spacy init config --pipeline tagger --optimize efficiency\`,
trained by \`tests/spacy_tagger.py\` with \`spacy train\` for 4 epochs on EWT train with UPOS as its
tags, scored on EWT dev; batch: whole processes alternated, 3 of each, our
\`service.cli tag --pretokenized\` against \`tests/spacy_tag.py\` (\`Doc(words=...)\` through
\`nlp.pipe\`, one JSON line per sentence) on the EWT train sentences, each process's time on the
file's first line alone subtracted, ratio of the median tokens/s; REST: median \`/v1/parse\`
latency of ATIS test sentences from one keep-alive client to gunicorn (2 workers) against spaCy's
median \`nlp(text)\` in-process on the same sentences, passes alternated, 3 of each):

\`\`\`json
${paired}
\`\`\`
MD

# Soak: 100,000 requests against its own gunicorn (2 workers) on a free loopback port.
soak=$(.venv/bin/python -m tests.soak --model models/default 2>/dev/null | tail -1)
cat >> BENCHMARKS.md <<MD

## Soak

Command: \`DATA_DIR=../shared/data .venv/bin/python -m tests.soak --model models/default\` (\`make soak\`:
100,000 requests from 16 keep-alive clients to gunicorn with 2 workers on a free 127.0.0.1 port, a
fixed mix of 70% good \`/v1/parse\`, \`/v1/parse/batch\` and \`/model/parse\` requests and 30% bad ones;
every status counted, every dropped connection counted, each worker's RSS after the first tenth of
the requests against its RSS at the end):

\`\`\`json
${soak}
\`\`\`
MD

# Model rollout under load: a copy of models/default as version 1, then version 2, in a scratch folder.
rollout=$(.venv/bin/python -m tests.bench_rollout --model models/default 2>/dev/null | tail -1)
cat >> BENCHMARKS.md <<MD

## Model rollout under load

Command: \`DATA_DIR=../shared/data .venv/bin/python -m tests.bench_rollout --model models/default\`
(a copy of the newest \`models/default\` served as version 1 by gunicorn with 2 workers polling every
second; 8 keep-alive clients send ATIS test sentences for 10 s; a copy is published as version 2;
"during" runs from the publish until every client has had an answer from version 2; then 10 s more):

\`\`\`json
${rollout}
\`\`\`
MD

# Chatbot data: builds Rasa YAML from SNIPS in a scratch folder and trains it through make train's command (about 20 min).
rasa=$(.venv/bin/python -m tests.bench_rasa --plot docs/learning_curve.png 2>/dev/null | sed '/^{/d')
cat >> BENCHMARKS.md <<MD

## Chatbot data (Rasa NLU)

Command: \`DATA_DIR=../shared/data .venv/bin/python -m tests.bench_rasa --plot docs/learning_curve.png\`
(Rasa YAML files built from SNIPS by \`tests/rasa_inputs.py\` in a scratch folder: 10,000 examples
drawn from train, 301 (43 per intent), 10 to 100 per intent, and all of train; each trained in a
child process with the command \`make train DATA=... NAME=... DEV=... TEST=...\` runs, with
\`training/configs/chatbot.toml\`, SNIPS dev as DEV and SNIPS test as TEST; wall time is the whole
command, start-up and export included; "no time limit" is the same 301 examples with
\`min_steps = 6000\` (four times the default) and patience over the whole run; the native figures are those of the newest
\`models/snips\` export):

${rasa}
MD
