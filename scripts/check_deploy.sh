#!/usr/bin/env bash
# Static checks of deploy/ (Dockerfiles, compose, Kubernetes): everything that needs no Docker
# engine and no cluster. Exit status non-zero if any check fails; a summary table at the end.
#
#   scripts/check_deploy.sh            # installs the pinned tools on first use (PyPI), then checks
#   SPLICE_DEPLOY_OFFLINE=1 ...        # never install; fail if the tools are missing
#
# Tools (deploy/requirements-check.txt, pinned by deploy/constraints-check.txt) live in their own
# environment .venv/deploy-tools, so checkov's pins never change the project's .venv. The checks
# themselves run offline: kubernetes-validate bundles its schemas, checkov runs --skip-download.
# The project's .venv (scripts/setup.sh) runs deploy/static_checks.py, which loads every
# splice.yaml into the server's Settings.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

TOOLS=.venv/deploy-tools
BIN=$TOOLS/bin
RENDERED=build/deploy-rendered
K8S_VERSIONS=(1.30.0 1.37.0)   # oldest supported (native gRPC probes are GA since 1.27) and newest
export BC_SKIP_MAPPING=TRUE CHECKOV_NO_VERSION_CHECK=1 PYTHONWARNINGS=ignore

declare -a NAMES=() RESULTS=() SECONDS_TAKEN=()
failed=0

# step NAME COMMAND...: run, show its output, record pass/fail and time.
step() {
  local name=$1 start rc
  shift
  echo "== $name"
  start=$EPOCHREALTIME
  "$@"
  rc=$?
  NAMES+=("$name")
  SECONDS_TAKEN+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')")
  if (( rc == 0 )); then RESULTS+=("ok"); else RESULTS+=("FAIL ($rc)"); failed=1; fi
}

skip() {  # skip NAME REASON
  echo "== $1: skipped: $2"
  NAMES+=("$1"); RESULTS+=("skipped: $2"); SECONDS_TAKEN+=("0.0")
}

install_tools() {
  local stamp=$TOOLS/.requirements.sha256 want
  want=$(cat deploy/requirements-check.txt deploy/constraints-check.txt | sha256sum | cut -d' ' -f1)
  if [[ -x $BIN/checkov && -f $stamp && $(cat "$stamp") == "$want" ]]; then
    echo "tools up to date in $TOOLS"
    return 0
  fi
  if [[ -n ${SPLICE_DEPLOY_OFFLINE:-} ]]; then
    echo "SPLICE_DEPLOY_OFFLINE is set and $TOOLS is missing or stale" >&2
    return 1
  fi
  local py=python3
  [[ -x .venv/bin/python ]] && py=.venv/bin/python
  "$py" -m venv --clear "$TOOLS" || return 1
  # (grep drops pip's notes about unreachable local find-links folders of some machines)
  "$BIN/python" -m pip install --quiet --disable-pip-version-check \
    -r deploy/requirements-check.txt -c deploy/constraints-check.txt 2>&1 |
    grep -v "^WARNING: Location '.*' is ignored"
  (( PIPESTATUS[0] == 0 )) || return 1
  echo "$want" > "$stamp" && echo "installed into $TOOLS"
}

render() {
  local kustomize=()
  if command -v kubectl >/dev/null; then kustomize=(kubectl kustomize)
  elif command -v kustomize >/dev/null; then kustomize=(kustomize build)
  else return 99
  fi
  rm -rf "$RENDERED" && mkdir -p "$RENDERED" || return 1
  "${kustomize[0]}" version --client 2>/dev/null | tail -1
  "${kustomize[@]}" deploy/k8s/base > "$RENDERED/base.yaml" &&
    "${kustomize[@]}" deploy/k8s/overlays/dev > "$RENDERED/dev.yaml" &&
    "${kustomize[@]}" deploy/k8s/overlays/prod > "$RENDERED/prod.yaml" &&
    grep -c '^kind:' "$RENDERED"/*.yaml
}

schema_validate() {
  # Complete manifests only: kustomization.yaml files and overlay patches are not objects.
  local files=() f rc=0 v
  for f in deploy/k8s/base/*.yaml deploy/k8s/components/*/*.yaml deploy/k8s/overlays/dev/postgres.yaml; do
    [[ $(basename "$f") == kustomization.yaml ]] || files+=("$f")
  done
  [[ -d $RENDERED ]] && files+=("$RENDERED"/*.yaml)
  for v in "${K8S_VERSIONS[@]}"; do
    "$BIN/kubernetes-validate" --strict --quiet -k "$v" "${files[@]}" || rc=1
    echo "kubernetes $v --strict: ${#files[@]} files checked"
  done
  return $rc
}

run_checkov() {  # run_checkov FRAMEWORK PATH...
  local framework=$1 args=()
  shift
  for path in "$@"; do args+=(-d "$path"); done
  "$BIN/checkov" --skip-download --quiet --compact --framework "$framework" "${args[@]}"
}

compose_config() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f deploy/compose/compose.yaml --env-file deploy/compose/.env.example \
      --profile grafana config --quiet && echo "docker compose config: valid"
  else
    echo "docker compose not installed: compose.yaml is parsed and checked by deploy/static_checks.py"
  fi
}

start_all=$(date +%s)
step "install tools" install_tools || true
if [[ ! -x $BIN/checkov ]]; then
  echo "tools missing in $TOOLS: cannot check" >&2
  exit 1
fi
step "shellcheck" "$BIN/shellcheck" deploy/docker/build.sh scripts/check_deploy.sh
step "hadolint" "$BIN/hadolint" deploy/docker/server.Dockerfile deploy/docker/trainer.Dockerfile
step "yamllint" "$BIN/yamllint" --strict deploy .yamllint
step "compose config" compose_config
render_rc=0
if command -v kubectl >/dev/null || command -v kustomize >/dev/null; then
  step "kustomize base/dev/prod" render
else
  render_rc=99
  rm -rf "$RENDERED"
  skip "kustomize base/dev/prod" "neither kubectl nor kustomize on PATH"
fi
step "kubernetes-validate" schema_validate
step "checkov dockerfile" run_checkov dockerfile deploy/docker
step "checkov k8s sources" run_checkov kubernetes deploy/k8s/base deploy/k8s/components
if (( render_rc == 0 )); then
  step "checkov k8s rendered" run_checkov kubernetes "$RENDERED"
else
  skip "checkov k8s rendered" "overlays not rendered"
fi
step "checkov secrets" run_checkov secrets deploy
if [[ -x .venv/bin/python ]]; then
  if [[ -d $RENDERED ]]; then
    step "static checks" .venv/bin/python deploy/static_checks.py "$RENDERED"
  else
    step "static checks" .venv/bin/python deploy/static_checks.py
  fi
else
  NAMES+=("static checks"); RESULTS+=("FAIL (no .venv: run scripts/setup.sh)"); SECONDS_TAKEN+=("0.0")
  failed=1
fi

echo
echo "== deploy checks summary ($(( $(date +%s) - start_all )) s)"
for i in "${!NAMES[@]}"; do
  printf '  %-26s %6ss  %s\n' "${NAMES[$i]}" "${SECONDS_TAKEN[$i]}" "${RESULTS[$i]}"
done
if (( failed )); then
  echo "deploy checks: FAILED"
  exit 1
fi
echo "deploy checks: all passed"
