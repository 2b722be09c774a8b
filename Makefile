# Splice developer tasks. `make help` lists them.
PY ?= .venv/bin/python
PROTO_DIR := proto
STUB_DIR := sdk

.PHONY: help setup proto proto-check lint test demo serve bench

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

setup:  ## create .venv and install splice with its dev extras
	bash scripts/setup.sh

proto:  ## regenerate the committed stubs under sdk/splice/v1 from proto/
	$(PY) -m grpc_tools.protoc -I$(PROTO_DIR) \
		--python_out=$(STUB_DIR) --pyi_out=$(STUB_DIR) --grpc_python_out=$(STUB_DIR) \
		$(shell find $(PROTO_DIR) -name '*.proto')

proto-check:  ## fail if the committed stubs differ from a fresh generation
	bash scripts/proto_check.sh

lint:  ## buf lint, ruff, mypy
	.venv/bin/buf lint
	.venv/bin/ruff check .
	.venv/bin/mypy

test:  ## set up and run the whole test suite
	bash scripts/test.sh

serve:  ## run the server on its embedded default (symbolic oracle, SQLite)
	.venv/bin/splice serve

.PHONY: reproduce

demo:  ## REDUCED RUN of the InT vs standard-RL comparison into runs/demo (~15 min, 2 CPUs)
	test -x $(PY) || bash scripts/setup.sh
	$(PY) -m splice.trainer.worlds.arith.experiment --preset demo --run-dir runs/demo

reproduce:  ## the full pre-registered comparison (docs/preregistration.md; hours, not in CI)
	test -x $(PY) || bash scripts/setup.sh
	$(PY) -m splice.trainer.worlds.arith.experiment --full --run-dir runs/full
