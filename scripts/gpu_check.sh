#!/usr/bin/env bash
# The trainer's GPU check (tests/trainer/test_gpu.py) on a bare CUDA machine whose python3 has
# torch, transformers, peft and accelerate but not TRL or datasets: those come as wheels in
# .whl/ (carried with the working tree) and are installed into /tmp/site. The log goes to
# $OUT/gpu.log when $OUT is set. Exits non-zero when no GPU is visible (the tests would only
# skip). `--cpu-dry-run` runs the same steps here with the GPU hidden (SPLICE_TEST_DEVICE=cpu).
set -o pipefail
cd "$(dirname "$0")/.."
DRY_RUN=0
[[ "${1:-}" == "--cpu-dry-run" ]] && DRY_RUN=1
LOG=/dev/null
if [[ -n "${OUT:-}" ]]; then mkdir -p "$OUT" && LOG="$OUT/gpu.log"; fi

check() {
    set -e
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PYTHONPATH \
        || { echo "installing .whl/ failed"; exit 1; }
    # `splice` is a namespace package over sdk/, server/ and trainer/ (hatch dev-mode-dirs)
    export PYTHONPATH="$PWD/sdk:$PWD/server:$PWD/trainer:$PYTHONPATH"
    export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
    # no internet there: never wait on the Hub
    export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME=/tmp/hf-home
    if [[ $DRY_RUN == 1 ]]; then
        export SPLICE_TEST_DEVICE=cpu CUDA_VISIBLE_DEVICES=""
    else
        unset SPLICE_TEST_DEVICE
    fi
    echo "== $(date -u +%FT%TZ) $(command -v python3) PYTHONPATH=$PYTHONPATH"
    if command -v nvidia-smi >/dev/null; then nvidia-smi; else echo "no nvidia-smi"; fi
    python3 - "$DRY_RUN" <<'EOF'
import importlib.metadata as md
import sys

import torch

for name in ("torch", "transformers", "trl", "peft", "accelerate", "datasets",
             "huggingface_hub", "tokenizers", "grpcio", "protobuf", "math-verify"):
    try:
        version = md.version(name)
    except md.PackageNotFoundError:
        version = "MISSING"
    print(f"{name:16} {version}")
print(f"python {sys.version.split()[0]}; torch cuda {torch.version.cuda}; "
      f"cuda available {torch.cuda.is_available()}")
if torch.cuda.is_available():
    print(f"device {torch.cuda.get_device_name(0)}; bf16 {torch.cuda.is_bf16_supported()}")
elif sys.argv[1] != "1":
    sys.exit("no CUDA device visible: the GPU tests would only skip")
import datasets, trl  # noqa: E401,F401  (the carried wheels import)
import splice.trainer.grpo, splice.trainer.hf_engine, splice.trainer.sft  # noqa: E401,F401
print("imports ok")
EOF
    timeout -k 10 300 python3 -m pytest --noconftest -p no:cacheprovider -v -rs --durations=10 \
        tests/trainer/test_gpu.py
}

( check ) 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
echo "== gpu_check exit $status" | tee -a "$LOG"
exit "$status"
