#!/usr/bin/env bash
# Creates .venv and installs splice (editable) with the extras named in $SPLICE_EXTRAS.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${SPLICE_EXTRAS:-dev}
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
fi
# A quiet install when nothing changed; pip prints what it adds otherwise.
.venv/bin/python -m pip install -q -e ".[${EXTRAS}]" 2>&1 | grep -v "is ignored: it is neither" || true
.venv/bin/python -c "import splice.server, splice.sdk" 
echo "setup done: .venv with splice[${EXTRAS}]"
