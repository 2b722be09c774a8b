"""TLS and mutual TLS: the SDK talks TLS; under mTLS a client without a valid certificate is
refused and one with a certificate from the configured CA is served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from splice.sdk import AsyncClient, Client, InterventionRequest
from splice.sdk.errors import SpliceError
from splice.sdk.retry import RetryPolicy
from splice.sdk.tls import TlsConfig
from splice.server.app import RunningServer, start_server
from splice.server.config import Settings, TlsSettings

from tests.conftest import FAKE_ORACLES, PROBLEM, REFERENCE, ROLLOUT
from tests.server.certs import CertificateAuthority

NO_RETRY = RetryPolicy(max_attempts=1)
REQUEST = InterventionRequest(problem=PROBLEM, reference_solution=REFERENCE, rollout=ROLLOUT)


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path / "pki", "splice-test-ca")


async def serve(tmp_path: Path, tls: TlsSettings) -> AsyncIterator[RunningServer]:
    settings = Settings(host="127.0.0.1", port=0, metrics_port=None, review_web=False,
                        store_url=f"sqlite:///{tmp_path / 'tls.db'}", oracles=FAKE_ORACLES,
                        default_oracle="noop", tls=tls)
    running = await start_server(settings)
    try:
        yield running
    finally:
        await running.stop(1.0)


@pytest.fixture
async def tls_server(tmp_path: Path, ca: CertificateAuthority) -> AsyncIterator[RunningServer]:
    cert = ca.issue("server", server=True)
    async for running in serve(tmp_path, TlsSettings(cert_file=cert.cert, key_file=cert.key)):
        yield running


@pytest.fixture
async def mtls_server(tmp_path: Path, ca: CertificateAuthority) -> AsyncIterator[RunningServer]:
    cert = ca.issue("server", server=True)
    async for running in serve(tmp_path, TlsSettings(
            cert_file=cert.cert, key_file=cert.key, client_ca_file=ca.cert)):
        yield running


async def test_sdk_talks_tls(tls_server: RunningServer, ca: CertificateAuthority) -> None:
    target = f"localhost:{tls_server.port}"
    async with AsyncClient(target, tls=TlsConfig(ca_file=ca.cert), retry=NO_RETRY) as client:
        assert (await client.intervene(REQUEST)).status.finished
    async with AsyncClient(target, retry=NO_RETRY, timeout=5) as plaintext:
        with pytest.raises(SpliceError):  # a plaintext client cannot talk to a TLS port
            await plaintext.intervene(REQUEST)


async def test_blocking_client_with_tls_and_name_override(
        tls_server: RunningServer, ca: CertificateAuthority) -> None:
    tls = TlsConfig(ca_file=ca.cert, server_name_override="localhost")

    def call() -> int:  # off the loop: the server runs on it
        with Client(f"127.0.0.1:{tls_server.port}", tls=tls, retry=NO_RETRY) as client:
            return len(client.oracles())

    assert await asyncio.to_thread(call) > 0


async def test_mtls_refuses_clients_without_a_valid_certificate(
        mtls_server: RunningServer, ca: CertificateAuthority, tmp_path: Path) -> None:
    target = f"localhost:{mtls_server.port}"
    other = CertificateAuthority(tmp_path / "other", "other-ca")
    mine, stranger = ca.issue("client", server=False), other.issue("stranger", server=False)
    refused = [TlsConfig(ca_file=ca.cert),  # no certificate
               TlsConfig(ca_file=ca.cert, cert_file=stranger.cert, key_file=stranger.key)]
    for tls in refused:
        async with AsyncClient(target, tls=tls, retry=NO_RETRY, timeout=5) as client:
            with pytest.raises(SpliceError) as info:
                await client.intervene(REQUEST)
            assert info.value.code.name == "UNAVAILABLE"  # the handshake fails
    good = TlsConfig(ca_file=ca.cert, cert_file=mine.cert, key_file=mine.key)
    async with AsyncClient(target, tls=good, retry=NO_RETRY) as client:
        assert (await client.intervene(REQUEST)).status.finished


def test_tls_settings_must_be_complete(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both cert_file and key_file"):
        TlsSettings(cert_file=tmp_path / "a.crt")
    with pytest.raises(ValueError, match="needs cert_file"):
        TlsSettings(client_ca_file=tmp_path / "ca.pem")
