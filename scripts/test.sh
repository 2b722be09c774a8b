#!/usr/bin/env bash
# The project's test command (README, `make test`, .ci/run): set up, lint, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
bash scripts/browsers.sh
echo "== proto drift"; bash scripts/proto_check.sh
echo "== buf lint"; .venv/bin/buf lint && echo "buf lint clean"
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== deploy checks"; bash scripts/check_deploy.sh
echo "== vllm engine (CPU, own virtualenv)"; bash scripts/test_vllm_cpu.sh
echo "== pytest"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
