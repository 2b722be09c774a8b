#!/usr/bin/env bash
# Creates .venv and installs splice (editable) with the extras in $SPLICE_EXTRAS
# (default: dev,llm,trainer). torch is installed first and pinned by constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${SPLICE_EXTRAS:-dev,llm,trainer}
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored: it is neither" || true
fi
quiet() { grep -v "is ignored: it is neither" || true; }
if [[ ",$EXTRAS," == *",trainer,"* ]] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install -q -c constraints.txt torch 2>&1 | quiet
fi
# SPLICE_NATIVE=1: the server's C hot path must compile (hatch_build.py), or setup fails
SPLICE_NATIVE=1 .venv/bin/python -m pip install -q -c constraints.txt -e ".[${EXTRAS}]" 2>&1 | quiet
.venv/bin/python -c "import splice.server._native, splice.sdk"
echo "setup done: .venv with splice[${EXTRAS}]"
