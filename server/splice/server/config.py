"""Server settings: one object, from defaults, a YAML file and ``SPLICE_*`` variables."""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

MiB = 1024 * 1024


class OracleConfig(BaseModel):
    """One configured oracle: a backend and its options."""

    backend: str = Field(description="Backend name ('symbolic', 'noop', 'llm:gemini', ...) "
                         "or a dotted path 'package.module:Class'.")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="Backend options (never secrets in clear).")
    timeout_s: float = Field(600.0, gt=0, description="Hard limit of one oracle call.")


def _default_oracles() -> dict[str, OracleConfig]:
    return {"symbolic": OracleConfig(backend="symbolic")}


class Limits(BaseModel):
    """Input limits; an over-size field is refused with RESOURCE_EXHAUSTED."""

    max_message_bytes: int = Field(8 * MiB, ge=1024, description="Largest gRPC message.")
    max_rollout_chars: int = Field(4 * MiB, ge=1, description="Largest rollout text.")
    max_steps: int = Field(4096, ge=1, description="Most steps in one rollout.")
    max_problem_chars: int = Field(1 * MiB, ge=1, description="Largest problem or reference.")
    max_id_chars: int = Field(128, ge=1, description="Longest request_id / client_id.")
    max_options: int = Field(64, ge=0, description="Most entries in a request's options.")


class AuthSettings(BaseModel):
    """Access control by bearer tokens (``splice.server.auth``)."""

    enabled: bool = Field(False, description="Require a token on every call; off (the "
                          "embedded default) lets everyone do everything.")
    tokens_file: Path | None = Field(None, description="YAML file of extra tokens: "
                                     "'tokens: [{name, role, sha256}]' (hashes only).")
    cache_s: float = Field(5.0, ge=0, description="How long a token lookup is cached; a "
                           "revoked token stops working within it.")
    secure_cookies: bool = Field(False, description="Mark the review page's session cookie "
                                 "Secure (serve it behind HTTPS).")


class TlsSettings(BaseModel):
    """gRPC TLS: a certificate and key serve TLS; a client CA also requires client
    certificates signed by it (mutual TLS)."""

    cert_file: Path | None = Field(None, description="PEM certificate chain of the server.")
    key_file: Path | None = Field(None, description="PEM private key of the server.")
    client_ca_file: Path | None = Field(None, description="PEM CA bundle; when set, every "
                                        "client must present a certificate it signed (mTLS).")

    @property
    def enabled(self) -> bool:
        """True when the server serves TLS."""
        return self.cert_file is not None

    @model_validator(mode="after")
    def _complete(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls: give both cert_file and key_file")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ValueError("tls: client_ca_file (mTLS) needs cert_file and key_file")
        return self


class TracingSettings(BaseModel):
    """OpenTelemetry spans (``splice.server.tracing``); off by default."""

    enabled: bool = Field(False, description="Create spans (exported by the global tracer "
                          "provider unless an endpoint is given).")
    endpoint: str | None = Field(None, description="OTLP/gRPC collector, e.g. "
                                 "'http://otel-collector:4317' (needs the 'otel' extra); "
                                 "implies enabled.")
    service_name: str = Field("splice-server", description="service.name of the spans.")


class Settings(BaseSettings):
    """Everything the server reads from its environment, in one place.

    Environment variables use the prefix ``SPLICE_`` and ``__`` for nesting
    (``SPLICE_LIMITS__MAX_STEPS=100``). Precedence: explicit arguments (CLI flags), then the
    environment, then the YAML file (``--config`` or ``SPLICE_CONFIG``), then defaults.
    """

    model_config = SettingsConfigDict(env_prefix="SPLICE_", env_nested_delimiter="__",
                                      extra="forbid")

    host: str = Field("127.0.0.1", description="Address to bind ('0.0.0.0' in containers).")
    port: int = Field(50051, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    store_url: str = Field("sqlite:///splice.db",
                           description="'sqlite:///path.db' or 'postgresql://user@host/db'.")
    default_oracle: str = Field("symbolic", description="Oracle used when a request names none.")
    oracles: dict[str, OracleConfig] = Field(default_factory=_default_oracles,
                                             description="Configured oracles by name.")
    limits: Limits = Field(default_factory=Limits, description="Input limits.")
    health: bool = Field(True, description="Serve grpc.health.v1.")
    reflection: bool = Field(True, description="Serve gRPC server reflection.")
    grace_s: float = Field(10.0, ge=0, description="Drain time for in-flight calls at shutdown.")
    log_level: str = Field("INFO", description="Logging level.")
    log_json: bool = Field(True, description="Structured (JSON) log lines.")
    resume_unfinished: bool = Field(True, description="Take over and rerun accepted work whose "
                                    "process died (its lease expired), at start and then "
                                    "every lease_s / 2.")
    lease_s: float = Field(30.0, gt=0, description="Lease of a process on the requests it runs; "
                           "renewed every lease_s / 3. Work of a dead process is taken over "
                           "once its lease expires.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="Access control.")
    review_port: int = Field(8080, ge=0, le=65535, description="Port of the reviewer web "
                             "page (served when a 'human' oracle is configured); 0 picks one.")
    review_web: bool = Field(True, description="Serve the reviewer web page.")
    review_lease_s: float = Field(300.0, gt=0, description="How long a reviewer holds a "
                                  "claimed task without a heartbeat; it then returns to the "
                                  "queue and the reviewer's lease token is refused.")
    metrics_port: int | None = Field(9464, ge=0, le=65535, description="Port of the "
                                     "Prometheus /metrics endpoint; 0 picks a free one, "
                                     "null disables metrics.")
    tracing: TracingSettings = Field(default_factory=TracingSettings,
                                     description="OpenTelemetry tracing.")
    tls: TlsSettings = Field(default_factory=TlsSettings, description="gRPC TLS / mTLS.")
    workers: int = Field(1, ge=1, le=256, description="Server processes sharing the port "
                         "(SO_REUSEPORT) and the store, under one supervisor.")
    worker_index: int | None = Field(None, ge=0, description="Set by the supervisor for its "
                                     "children; not for users.")
    use_cache: bool = Field(True, description="Serve identical content under the same oracle "
                            "config from the store.")

    @field_validator("oracles")
    @classmethod
    def _names_are_sane(cls, value: dict[str, OracleConfig]) -> dict[str, OracleConfig]:
        for name in value:
            if not name or len(name) > 64 or any(c.isspace() for c in name):
                raise ValueError(f"oracle name {name!r} must be 1-64 characters, no spaces")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls), file_secret_settings)


_config_file: ContextVar[Path | None] = ContextVar("splice_config_file", default=None)


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML settings file (below the environment in precedence)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get() or os.environ.get("SPLICE_CONFIG")
        if not path:
            return {}
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: top level must be a mapping of settings")
        return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``overrides``, the environment, ``config_file`` and defaults."""
    token = _config_file.set(config_file)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _config_file.reset(token)
