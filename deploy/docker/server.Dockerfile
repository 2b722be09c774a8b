# syntax=docker/dockerfile:1.7
# Splice server image: the gRPC oracle service with the symbolic and LLM backends, no torch.
# Build from the repository root (see deploy/docker/build.sh):
#   docker build -f deploy/docker/server.Dockerfile -t splice-server:0.1.0 .
# Base images are pinned to an exact version tag; add @sha256 digests at release time
# (build.sh prints them), this repository was never built here because no Docker engine runs.

# ---- build: a virtual environment with splice[llm] and its wheels, nothing else ----
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# A C compiler for the server's native hot path (hatch_build.py); the runtime stage has none.
# Debian's versions follow the pinned base image's snapshot, so they are not pinned one by one.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md hatch_build.py ./
COPY sdk ./sdk
COPY server ./server
COPY trainer ./trainer
# The server extras only: grpcio, asyncpg, sympy, math-verify and the provider SDKs (no torch).
RUN python -m venv /opt/venv \
    && SPLICE_NATIVE=1 /opt/venv/bin/pip install --no-cache-dir "/src[llm]" \
    && /opt/venv/bin/splice --help > /dev/null \
    && /opt/venv/bin/python -c "import splice.server._native"
COPY deploy/docker/healthcheck.py /opt/splice/healthcheck.py

# ---- runtime: the venv on the same slim base, a non-root user, a gRPC health check ----
FROM python:3.11.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="splice-server" \
      org.opencontainers.image.description="Splice gRPC oracle service (no torch)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 splice \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin splice \
    && mkdir -p /data \
    && chown 10001:10001 /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/splice /opt/splice
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SPLICE_HOST=0.0.0.0 \
    SPLICE_PORT=50051 \
    SPLICE_STORE_URL=sqlite:////data/splice.db
WORKDIR /data
USER 10001:10001
# 50051 gRPC, 9464 Prometheus metrics, 8080 review web page
EXPOSE 50051 9464 8080
# grpc.health.v1 Check against the local server (the same protocol as the Kubernetes probes).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/opt/splice/healthcheck.py"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["splice"]
CMD ["serve"]
