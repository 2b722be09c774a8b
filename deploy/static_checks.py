"""Checks of deploy/ that no linter does: compose references, server settings, dashboard names.

Run by scripts/check_deploy.sh with the project's .venv (PyYAML and splice[server]):
    .venv/bin/python deploy/static_checks.py [RENDERED_DIR]
RENDERED_DIR holds the `kubectl kustomize` output of the base and overlays (*.yaml); without
it, only the source files are checked. Prints one line per check; exit 1 on any failure.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
COMPOSE = DEPLOY / "compose"
METRICS = {
    "splice_requests_total", "splice_request_latency_seconds", "splice_oracle_tokens_total",
    "splice_oracle_cost_usd_total", "splice_oracle_retries_total", "splice_circuit_state",
    "splice_review_queue_depth", "splice_review_queue_oldest_age_seconds",
    "splice_store_latency_seconds",
}
"""The server's planned Prometheus series (port 9464, /metrics); histograms add _bucket etc."""
PORTS = {"grpc": 50051, "metrics": 9464, "http": 8080}
EXTERNAL_SECRETS = {"splice-store", "splice-provider-keys", "splice-tokens", "splice-review-tls"}
"""Secrets created outside git (deploy/README.md); overlays may generate them instead."""

failures: list[str] = []


def check(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Run the decorated function now; record an AssertionError as a failed check."""
    def run(fn: Callable[[], None]) -> Callable[[], None]:
        try:
            fn()
        except (AssertionError, OSError, ValueError, yaml.YAMLError) as exc:
            failures.append(name)
            print(f"FAIL {name}: {exc}")
        else:
            print(f"ok   {name}")
        return fn
    return run


def docs(path: Path) -> Iterator[dict[str, Any]]:
    """The non-empty YAML documents of a file."""
    yield from (d for d in yaml.safe_load_all(path.read_text()) if d)


def validate_settings(text: str, where: str) -> None:
    """A splice.yaml must load into the server's Settings (extra keys are refused)."""
    from splice.server.config import Settings
    from splice.server.oracles.llm.options import LlmOptions

    data = yaml.safe_load(text) or {}
    assert isinstance(data, dict), f"{where}: top level is not a mapping"
    settings = Settings(**data)
    assert settings.default_oracle in settings.oracles, f"{where}: default oracle not configured"
    for name, oracle in settings.oracles.items():
        if oracle.backend.startswith("llm:"):
            LlmOptions(**oracle.options)
            assert "api_key" not in oracle.options, f"{where}: {name}: inline api_key"


def rendered_docs(rendered: Path | None) -> dict[str, list[dict[str, Any]]]:
    """Rendered manifests by file stem (base, dev, prod)."""
    if rendered is None:
        return {}
    return {p.stem: list(docs(p)) for p in sorted(rendered.glob("*.yaml"))}


def main(argv: list[str]) -> int:
    rendered = Path(argv[1]) if len(argv) > 1 else None
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    services: dict[str, Any] = compose.get("services", {})

    @check("compose: services, replicas, profiles, health checks")
    def _() -> None:
        assert {"server", "postgres", "prometheus", "grafana"} <= services.keys(), services.keys()
        assert services["server"]["deploy"]["replicas"] == 2, "server needs 2 replicas"
        assert "grafana" in services["grafana"].get("profiles", []), "grafana must be optional"
        for name in ("server", "postgres"):
            assert services[name].get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
        assert services["server"]["depends_on"]["postgres"]["condition"] == "service_healthy"

    @check("compose: images pinned, references declared, files present")
    def _() -> None:
        for name, svc in services.items():
            image = svc.get("image", "")
            tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
            assert tag and tag != "latest", f"{name}: image {image!r} has no pinned tag"
            for dep in svc.get("depends_on", []):
                assert dep in services, f"{name}: depends_on unknown service {dep}"
            for net in svc.get("networks", []):
                assert net in compose.get("networks", {}), f"{name}: undeclared network {net}"
            for cfg in svc.get("configs", []):
                assert cfg["source"] in compose.get("configs", {}), f"{name}: config {cfg}"
            for vol in svc.get("volumes", []):
                source = vol.split(":", 1)[0]
                if source.startswith("."):
                    assert (COMPOSE / source).exists(), f"{name}: missing {source}"
                else:
                    assert source in compose.get("volumes", {}), f"{name}: volume {source}"
            build = svc.get("build")
            if build:
                dockerfile = COMPOSE / build["context"] / build["dockerfile"]
                assert dockerfile.is_file(), f"{name}: no {dockerfile}"
        for cfg in compose.get("configs", {}).values():
            assert (COMPOSE / cfg["file"]).is_file(), f"missing config file {cfg['file']}"

    @check("compose: every required ${VAR:?} is in .env.example")
    def _() -> None:
        text = (COMPOSE / "compose.yaml").read_text()
        example = (COMPOSE / ".env.example").read_text()
        defined = set(re.findall(r"^([A-Z0-9_]+)=", example, re.M))
        used = set(re.findall(r"\$\{([A-Z0-9_]+)(?::?[-?])", text))
        assert used <= defined, f"not in .env.example: {sorted(used - defined)}"

    @check("prometheus.yml: scrapes every server replica on 9464/metrics")
    def _() -> None:
        prom = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
        jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
        assert len(jobs) == len(prom["scrape_configs"]), "duplicate job names"
        job = jobs["splice-server"]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        sd = job["dns_sd_configs"][0]
        assert sd["names"] == ["server"] and sd["port"] == PORTS["metrics"], sd

    @check("grafana: dashboard JSON uses exactly the planned splice_* series")
    def _() -> None:
        dash = json.loads((COMPOSE / "grafana/dashboards/splice.json").read_text())
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        names = {re.sub(r"_(bucket|sum|count)$", "", m)
                 for e in exprs for m in re.findall(r"\bsplice_[a-z_]+", e)}
        assert names == METRICS, f"unknown {names - METRICS}, missing {METRICS - names}"
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)), "duplicate panel ids"
        source = yaml.safe_load(
            (COMPOSE / "grafana/provisioning/datasources/prometheus.yaml").read_text())
        assert source["datasources"][0]["uid"] == "prometheus"

    @check("server settings: every splice.yaml loads into splice.server.config.Settings")
    def _() -> None:
        validate_settings((COMPOSE / "splice.yaml").read_text(), "compose/splice.yaml")
        for path in sorted((DEPLOY / "k8s").rglob("splice.yaml")):
            validate_settings(path.read_text(), str(path.relative_to(DEPLOY)))
        for doc in docs(DEPLOY / "k8s/base/configmap.yaml"):
            validate_settings(doc["data"]["splice.yaml"], "k8s/base/configmap.yaml")

    @check("skips: every checkov skip and hadolint ignore carries a reason")
    def _() -> None:
        count = 0
        for path in sorted(DEPLOY.rglob("*")):
            if not path.is_file() or path.suffix in {".json", ".py", ".md", ".txt"}:
                continue
            lines = path.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                for m in re.finditer(r"checkov:skip=(CKV2?_[A-Z0-9_]+)(?::(.*))?", line):
                    count += 1
                    assert len((m.group(2) or "").strip()) > 15, f"{path}:{i + 1}: no reason"
                if "hadolint ignore=" in line:
                    count += 1
                    above = lines[i - 1].lstrip() if i else ""
                    assert above.startswith("#") and "hadolint" not in above, \
                        f"{path}:{i + 1}: hadolint ignore without a reason comment above it"
            if path.suffix in {".yaml", ".yml"}:
                for doc in docs(path):
                    meta = doc.get("metadata") if isinstance(doc, dict) else None
                    annotations = (meta or {}).get("annotations") or {}
                    for key, value in annotations.items():
                        if key.startswith("checkov.io/skip"):
                            count += 1
                            check_id, _, reason = str(value).partition("=")
                            assert re.fullmatch(r"CKV2?_[A-Z0-9_]+", check_id), f"{path}: {key}"
                            assert len(reason.strip()) > 15, f"{path}: {key} has no reason"
                            assert "=" not in reason, f"{path}: {key}: '=' breaks checkov"
        assert count, "no skips found at all: is the scan looking in the right place?"

    if rendered is not None:
        manifests = rendered_docs(rendered)

        @check("rendered: base, dev and prod present")
        def _() -> None:
            assert {"base", "dev", "prod"} <= manifests.keys(), sorted(manifests)

        @check("rendered: gRPC probes, restricted pods, references resolve")
        def _() -> None:
            for stem, objects in manifests.items():
                names = {(o["kind"], o["metadata"]["name"]) for o in objects}
                deployments = [o for o in objects if o["kind"] == "Deployment"]
                assert deployments, f"{stem}: no Deployment"
                for dep in deployments:
                    pod = dep["spec"]["template"]["spec"]
                    server = pod["containers"][0]
                    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                        port = server[probe]["grpc"]["port"]
                        assert port == PORTS["grpc"], f"{stem}: {probe} on {port}"
                    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
                    assert ports == PORTS, f"{stem}: ports {ports}"
                    assert pod["securityContext"]["runAsNonRoot"] is True, f"{stem}: root pod"
                    assert server["securityContext"]["readOnlyRootFilesystem"] is True, \
                        f"{stem}: writable root filesystem"
                    assert server["resources"]["limits"] and server["resources"]["requests"], \
                        f"{stem}: no resource requests/limits"
                    refs = [e["valueFrom"]["secretKeyRef"]["name"] for e in server["env"]
                            if "secretKeyRef" in e.get("valueFrom", {})]
                    refs += [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v]
                    for ref in refs:
                        assert ("Secret", ref) in names or ref in EXTERNAL_SECRETS, \
                            f"{stem}: Secret {ref} is neither rendered nor documented"
                    for v in pod["volumes"]:
                        if "configMap" in v:
                            assert ("ConfigMap", v["configMap"]["name"]) in names
                for cm in (o for o in objects if o["kind"] == "ConfigMap"):
                    if "splice.yaml" in cm.get("data", {}):
                        validate_settings(cm["data"]["splice.yaml"], f"{stem}: {cm['kind']}")
                for obj in objects:
                    if obj["kind"] != "Namespace":
                        assert obj["metadata"].get("namespace") not in (None, "default"), \
                            f"{stem}: {obj['kind']}/{obj['metadata']['name']} namespace"

    print(f"static checks: {len(failures)} failed" if failures else "static checks: all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
