#!/usr/bin/env bash
# Build (and optionally smoke-test and push) the Splice images.
#
#   NOT RUN HERE. No Docker engine runs on the machines where these files were written, so this
#   script has never been executed end to end. What can be checked without an engine is checked
#   by scripts/check_deploy.sh (hadolint, checkov on the Dockerfiles). Run this on a machine
#   with Docker >= 23 (BuildKit, which reads <Dockerfile>.dockerignore) and report what breaks.
#
# Usage (from anywhere; the build context is the repository root):
#   deploy/docker/build.sh [server|trainer|all] [--smoke] [--push]
#     server   splice-server image: grpc service, no torch (default target: all)
#     trainer  splice-trainer image: CUDA runtime, torch, vLLM (large; needs ~25 GB of disk)
#     --smoke  run the server image, wait for its gRPC HEALTHCHECK to report healthy, stop it
#     --push   push the tags to $REGISTRY (then print the digests to pin in deploy/k8s overlays)
# Environment:
#   REGISTRY   image name prefix (default: ghcr.io/splice); TAG (default: version in pyproject)
#   PLATFORM   e.g. linux/amd64 (default: the engine's own)
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "deploy/docker/build.sh: this script was written without a Docker engine and has not been" >&2
echo "run on the machine where it was written; check its output carefully." >&2

target=all; smoke=0; push=0
for arg in "$@"; do
  case "$arg" in
    server|trainer|all) target=$arg ;;
    --smoke) smoke=1 ;;
    --push) push=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

command -v docker >/dev/null || { echo "docker not found" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "no Docker engine answers (docker info failed)" >&2; exit 1; }

REGISTRY=${REGISTRY:-ghcr.io/splice}
TAG=${TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)}
platform_args=()
[[ -n "${PLATFORM:-}" ]] && platform_args=(--platform "$PLATFORM")

build() {  # build NAME: deploy/docker/NAME.Dockerfile -> $REGISTRY/splice-NAME:$TAG
  local name=$1 image="$REGISTRY/splice-$1:$TAG"
  echo "== build $image"
  DOCKER_BUILDKIT=1 docker build "${platform_args[@]}" \
    -f "deploy/docker/$name.Dockerfile" -t "$image" \
    --label "org.opencontainers.image.version=$TAG" \
    --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" .
  docker image inspect "$image" --format '{{.Id}}  {{.Size}} bytes'
  # The server image must stay free of torch.
  if [[ $name == server ]] && docker run --rm --entrypoint python "$image" -c "import torch" 2>/dev/null; then
    echo "server image unexpectedly contains torch" >&2; exit 1
  fi
}

smoke_server() {  # start the server image on SQLite and wait for Docker to call it healthy
  local image="$REGISTRY/splice-server:$TAG" name="splice-smoke-$$" status=""
  echo "== smoke $image"
  docker run -d --name "$name" --read-only --tmpfs /tmp --tmpfs /data:uid=10001,gid=10001 \
    --cap-drop ALL --security-opt no-new-privileges -p 127.0.0.1::50051 "$image" >/dev/null
  trap 'docker rm -f "$name" >/dev/null 2>&1 || true' RETURN
  for _ in $(seq 1 30); do
    status=$(docker inspect -f '{{.State.Health.Status}}' "$name")
    [[ $status == healthy ]] && break
    sleep 2
  done
  docker logs "$name" 2>&1 | tail -5
  [[ $status == healthy ]] || { echo "server not healthy: $status" >&2; return 1; }
  echo "server healthy (grpc.health.v1)"
}

case $target in
  server) build server ;;
  trainer) build trainer ;;
  all) build server; build trainer ;;
esac
if (( smoke )) && [[ $target != trainer ]]; then smoke_server; fi
if (( push )); then
  for name in server trainer; do
    [[ $target == all || $target == "$name" ]] || continue
    docker push "$REGISTRY/splice-$name:$TAG"
    docker image inspect "$REGISTRY/splice-$name:$TAG" --format '{{index .RepoDigests 0}}'
  done
  echo "pin these digests: cd deploy/k8s/overlays/prod && kustomize edit set image splice-server=<digest>"
fi
