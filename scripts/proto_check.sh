#!/usr/bin/env bash
# Fails when the committed stubs under sdk/splice/v1 differ from a fresh generation.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m grpc_tools.protoc -Iproto --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" \
    $(find proto -name '*.proto')
status=0
for f in $(cd "$tmp" && find . -type f -name '*.py*'); do
    if ! diff -q "$tmp/$f" "sdk/$f" >/dev/null 2>&1; then
        echo "stub drift: sdk/${f#./} differs from a fresh 'make proto'" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "proto stubs up to date"
exit $status
