#!/usr/bin/env bash
# The vLLM engine tests on CPU, in .venv-vllm (made by scripts/vllm_cpu_env.sh if missing).
# --confcutdir: the suite's upper conftests import the server, which .venv-vllm lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-vllm/bin/python ] || bash scripts/vllm_cpu_env.sh
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"  # GiB; the tiny model needs little
exec .venv-vllm/bin/python -m pytest -q -p no:cacheprovider --confcutdir=tests/trainer/vllm \
  tests/trainer/vllm "$@"
