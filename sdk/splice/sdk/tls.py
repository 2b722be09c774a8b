"""TLS settings of a client channel: CA bundle, client certificate and key (mutual TLS)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """Paths of PEM files; all optional.

    ``ca_file``: the CA that signed the server's certificate (default: the system roots).
    ``cert_file`` + ``key_file``: this client's certificate, for servers that require
    client certificates (mTLS). ``server_name_override``: the name to check in the server's
    certificate when it differs from the target's host (tests, IP targets).
    """

    ca_file: str | Path | None = None
    cert_file: str | Path | None = None
    key_file: str | Path | None = None
    server_name_override: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        """gRPC channel credentials from the files."""
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("TlsConfig: give both cert_file and key_file, or neither")

        def read(path: str | Path | None) -> bytes | None:
            return None if path is None else Path(path).read_bytes()

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_file), private_key=read(self.key_file),
            certificate_chain=read(self.cert_file))

    def options(self) -> list[tuple[str, str]]:
        """Channel options (the name override, when set)."""
        if self.server_name_override is None:
            return []
        return [("grpc.ssl_target_name_override", self.server_name_override)]
