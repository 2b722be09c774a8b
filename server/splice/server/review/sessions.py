"""Sessions of the reviewer web page: server-side, in memory, one CSRF token each.

The browser holds only a random session id (HttpOnly, SameSite=Strict cookie); the reviewer's
access token is seen once, at sign-in, and the lease token of the claimed task never leaves
the server. Sessions do not survive a restart (reviewers sign in again; their claims expire
and return to the queue).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

from splice.server.auth import Principal
from splice.server.review.queue import Claim

SESSION_COOKIE = "splice_session"
LOGIN_COOKIE = "splice_login_csrf"


@dataclass
class Session:
    """One signed-in reviewer: who, the CSRF token of their forms, the task they hold."""

    principal: Principal
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    claim: Claim | None = None
    flash: str = ""
    seen: float = field(default_factory=time.monotonic)

    def check_csrf(self, token: str | None) -> bool:
        """Whether ``token`` is this session's CSRF token (constant time)."""
        return bool(token) and hmac.compare_digest(token or "", self.csrf)

    def take_flash(self) -> str:
        """The pending one-time message, cleared."""
        message, self.flash = self.flash, ""
        return message


class Sessions:
    """Session id → Session, expiring after ``idle_s`` without a request."""

    def __init__(self, idle_s: float = 12 * 3600, capacity: int = 10_000) -> None:
        self.idle_s, self.capacity = idle_s, capacity
        self._sessions: dict[str, Session] = {}

    def create(self, principal: Principal) -> tuple[str, Session]:
        """A new session for ``principal`` and its id (the cookie's value)."""
        self._expire()
        sid = secrets.token_urlsafe(32)
        session = Session(principal)
        self._sessions[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of ``sid``, if any (touching it)."""
        session = self._sessions.get(sid or "")
        if session is None:
            return None
        now = time.monotonic()
        if now - session.seen > self.idle_s:
            self._sessions.pop(sid or "", None)
            return None
        session.seen = now
        return session

    def drop(self, sid: str | None) -> None:
        """Sign out."""
        self._sessions.pop(sid or "", None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._sessions.items() if now - v.seen > self.idle_s]:
            del self._sessions[sid]
        while len(self._sessions) >= self.capacity:
            del self._sessions[next(iter(self._sessions))]
