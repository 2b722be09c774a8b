"""The reviewer page in headless Chromium (Debian's, driven by Playwright): sign in, claim,
pick the error step, write a replacement, submit; the SDK's watch() gets the verdict."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api
from splice.sdk import Client, ErrorCategory, Intervention, Status
from splice.server.auth import Role, create_token
from splice.server.review.queue import open_review_queue
from splice.server.store import open_store
from splice.server.testing import ServerProcess, start_server_process

from tests.server.review.helpers import HUMAN, request

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.fixture(autouse=True)
def _chromium_present() -> None:
    """The browser is part of the test setup (scripts/browsers.sh); missing is a failure."""
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run scripts/browsers.sh (apt-get install chromium)")


def make_tokens(url: str) -> dict[str, str]:
    """A token per role, created in the store at ``url``."""
    async def run() -> dict[str, str]:
        async with open_store(url), open_review_queue(url) as queue:
            return {role.value: await create_token(queue, f"{role.value}-1", role)
                    for role in Role}

    return asyncio.run(run())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """A server with a human oracle and access control, and its tokens."""
    url = f"sqlite:///{tmp_path / 'splice.db'}"
    tokens = make_tokens(url)
    proc = start_server_process({**HUMAN, "store_url": url, "auth": {"enabled": True}},
                                tmp_path / "server")
    yield proc, tokens
    proc.terminate()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium."""
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def sign_in(browser: Any, base: str, token: str) -> Any:
    """A page signed in with ``token`` (by the form, as a person would)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{base}/login")
    page.fill("#token", token)
    page.click("#sign-in")
    return page


def test_review_in_the_browser(server: tuple[ServerProcess, dict[str, str]],
                               browser: Any) -> None:
    proc, tokens = server
    assert proc.review_url is not None
    seen: list[Intervention] = []
    with Client(proc.address, token=tokens["client"]) as client:
        assert client.intervene(request("r1")).status is Status.PENDING

        def watch() -> None:
            seen.extend(itertools.islice(client.watch(0), 1))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        page = sign_in(browser, proc.review_url, tokens["reviewer"])
        assert tokens["reviewer"] not in page.url
        page.click("#claim")
        page.wait_for_selector("#step-2")
        page.wait_for_selector("#problem .katex")  # LaTeX rendered by the vendored KaTeX
        page.click("#step-2")
        page.keyboard.press("x")  # EXECUTION, by its key
        page.fill("textarea[name=replacement]", "$2 + 2 = 4$, so the answer is $4$.")
        assert page.input_value("select.location") == "2"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=True)
        page.keyboard.press("Control+Enter")
        page.wait_for_selector("text=Submitted r1.")
        assert "step 2 (EXECUTION)" in page.inner_text("#history")
        assert "mine today 1" in " ".join(page.inner_text("#counters").split())
        watcher.join(timeout=30)
    assert len(seen) == 1
    done = seen[0]
    assert (done.request_id, done.status, done.first_error_step, done.category) == (
        "r1", Status.FOUND_ERROR, 2, ErrorCategory.EXECUTION)
    assert [(r.location, r.content) for r in done.replacements] == [
        (2, "$2 + 2 = 4$, so the answer is $4$.")]


def test_wrong_token_and_roles(server: tuple[ServerProcess, dict[str, str]],
                               browser: Any) -> None:
    proc, tokens = server
    base = proc.review_url
    page = sign_in(browser, base, "splice_not-a-token")
    assert "Unknown or revoked token" in page.inner_text("main")
    assert page.url.endswith("/login")
    page = sign_in(browser, base, tokens["client"])
    assert "belongs to a client" in page.inner_text("main")
    page = sign_in(browser, base, tokens["reviewer"])
    assert page.url.endswith("/review")
    cookie = next(c for c in page.context.cookies() if c["name"] == "splice_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    response = page.goto(f"{base}/admin")
    assert response.status == 403 and page.is_visible("#denied")
    forged = page.request.post(f"{base}/claim", form={"csrf": "forged"})
    assert forged.url.endswith("/login")  # no CSRF token: not done
    admin = sign_in(browser, base, tokens["admin"])
    assert admin.goto(f"{base}/admin").status == 200
    assert admin.is_visible("#audit")
