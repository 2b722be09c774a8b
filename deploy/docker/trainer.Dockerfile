# syntax=docker/dockerfile:1.7
# Splice trainer image: CUDA runtime, Python 3.12, torch and vLLM (splice[vllm]).
# Build from the repository root (see deploy/docker/build.sh):
#   docker build -f deploy/docker/trainer.Dockerfile -t splice-trainer:0.1.0 .
# torch and vLLM wheels bring their own CUDA libraries (nvidia-* wheels); the CUDA base gives
# the matching user-space runtime, and the host needs an NVIDIA driver for CUDA 12.6 or newer.
# Not built here: no Docker engine runs on the machines where this file was written.

# ---- build: a virtual environment with splice[vllm] (torch, transformers, TRL, peft, vLLM) ----
FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04 AS build
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Ubuntu's own python3.12 (24.04's default); apt versions follow the pinned base image's
# snapshot, so they are not pinned one by one.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12 python3.12-venv python3.12-dev \
       build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md hatch_build.py ./
COPY sdk ./sdk
COPY server ./server
COPY trainer ./trainer
RUN python3.12 -m venv /opt/venv \
    && SPLICE_NATIVE=1 /opt/venv/bin/pip install --no-cache-dir "/src[vllm,llm]" \
    && /opt/venv/bin/python -c "import torch, vllm, splice.trainer"

# ---- runtime: same CUDA base, the venv, a compiler for Triton's JIT, a non-root user ----
FROM nvidia/cuda:12.6.3-runtime-ubuntu24.04 AS runtime
LABEL org.opencontainers.image.title="splice-trainer" \
      org.opencontainers.image.description="Splice trainer: torch, TRL, peft, vLLM on CUDA" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV DEBIAN_FRONTEND=noninteractive
# Triton (used by torch.compile and vLLM) compiles small C launchers at run time: it needs gcc
# and the Python headers in the runtime image as well.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.12 python3.12-dev gcc libc6-dev \
       ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 splice \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/splice \
       --shell /usr/sbin/nologin splice \
    && mkdir -p /workspace \
    && chown 10001:10001 /workspace
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/workspace/.cache/huggingface
WORKDIR /workspace
USER 10001:10001
# A batch job, not a service: there is nothing long-lived to probe, so no HEALTHCHECK.
#checkov:skip=CKV_DOCKER_2: batch training job; it exits when done and has no port to probe
CMD ["python", "-c", "import splice.trainer, torch, vllm; print('splice trainer', torch.__version__, vllm.__version__, 'cuda', torch.cuda.is_available())"]
