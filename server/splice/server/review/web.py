"""The reviewer web page: server-rendered (Jinja2), a little vanilla JavaScript, KaTeX.

Sign in with a reviewer token (POST form; never in a URL), claim a task, click the first
critical error step, write replacement steps, submit; the next task appears. Every POST
carries the session's CSRF token. Admins also see ``/admin`` (queue and audit trail).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from splice.sdk.types import ErrorCategory, Replacement, Status
from splice.server.auth import Principal, Role, TokenAuthority
from splice.server.errors import InvalidArgumentError
from splice.server.review.desk import ReviewDesk
from splice.server.review.queue import Review, StaleLeaseError
from splice.server.review.sessions import LOGIN_COOKIE, SESSION_COOKIE, Session, Sessions

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; font-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STALE = "Your lease on that task ran out (or it was taken over); it went back to the queue."


def create_app(desk: ReviewDesk, authority: TokenAuthority | None, *,
               secure_cookies: bool = False) -> FastAPI:
    """The web app; ``authority`` None means access control is off (any name signs in)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    sessions = Sessions()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]],
                      ) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def cookie(response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, samesite="strict",
                            secure=secure_cookies, path="/")

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def session_of(request: Request) -> Session | None:
        return sessions.get(request.cookies.get(SESSION_COOKIE))

    async def posted(request: Request) -> tuple[Session | None, Any]:
        """The session of a POST whose CSRF token (form field or header) is right."""
        session = session_of(request)
        form = await request.form()
        token = form.get("csrf") or request.headers.get("x-csrf-token")
        if session is None or not session.check_csrf(str(token or "")):
            return None, form
        return session, form

    def to_login() -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.get("/")
    async def index() -> Response:
        return RedirectResponse("/review", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    async def login_get(request: Request) -> Response:
        return await login_form(request)

    async def login_form(request: Request, error: str = "", status: int = 200) -> Response:
        csrf = secrets.token_urlsafe(32)
        response = page(request, "login.html", status, csrf=csrf, error=error,
                        auth=authority is not None)
        cookie(response, LOGIN_COOKIE, csrf)
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(str(form.get("csrf", "")), expected):
            return await login_form(request, "The form expired; sign in again.", 403)
        principal: Principal | None
        if authority is None:
            name = str(form.get("name", "")).strip()[:64]
            principal = Principal(name, Role.ADMIN) if name else None
        else:
            principal = await authority.authenticate(str(form.get("token", "")).strip())
        if principal is None:
            return await login_form(request, "Unknown or revoked token.", 401)
        if principal.role is Role.CLIENT:
            return await login_form(request, "This token belongs to a client, not a reviewer.",
                                    403)
        sid, _ = sessions.create(principal)
        response = RedirectResponse("/review", status_code=303)
        cookie(response, SESSION_COOKIE, sid)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session, _ = await posted(request)
        if session is not None:
            if session.claim is not None:
                await _quietly(desk.release(session.claim.request_id, session.claim.lease_token))
            sessions.drop(request.cookies.get(SESSION_COOKIE))
        response = to_login()
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/review", response_class=HTMLResponse)
    async def review_get(request: Request) -> Response:
        return await review_page(request)

    async def review_page(request: Request, error: str = "", status: int = 200) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        name = session.principal.name
        return page(request, "review.html", status, session=session, claim=session.claim,
                    stats=await desk.stats(name), history=await desk.history(name),
                    flash=session.take_flash(), error=error,
                    is_admin=session.principal.role is Role.ADMIN)

    async def claim_next(session: Session) -> None:
        session.claim = await desk.claim(session.principal.name)
        if session.claim is None:
            session.flash = session.flash or "The queue has nothing for you right now."

    @app.post("/claim")
    async def claim(request: Request) -> Response:
        session, _ = await posted(request)
        if session is None:
            return to_login()
        if session.claim is None:
            await claim_next(session)
        return RedirectResponse("/review", status_code=303)

    @app.post("/submit")
    async def submit(request: Request) -> Response:
        session, form = await posted(request)
        if session is None:
            return to_login()
        held = session.claim
        if held is None:
            session.flash = "You hold no task."
            return RedirectResponse("/review", status_code=303)
        try:
            review = review_from_form(form, session.principal.name)
            await desk.submit(held.request_id, held.lease_token, review)
        except InvalidArgumentError as exc:
            return await review_page(request, str(exc), 422)
        except StaleLeaseError:
            session.flash = STALE
        else:
            session.flash = f"Submitted {held.request_id}."
        await claim_next(session)
        return RedirectResponse("/review", status_code=303)

    @app.post("/skip")
    async def skip(request: Request) -> Response:
        return await give_back(request, skip=True)

    @app.post("/release")
    async def release(request: Request) -> Response:
        return await give_back(request, skip=False)

    async def give_back(request: Request, *, skip: bool) -> Response:
        session, form = await posted(request)
        if session is None:
            return to_login()
        held, session.claim = session.claim, None
        if held is not None:
            try:
                if skip:
                    await desk.skip(held.request_id, held.lease_token,
                                    str(form.get("reason", "")))
                else:
                    await desk.release(held.request_id, held.lease_token)
            except StaleLeaseError:
                session.flash = STALE
        if skip:
            await claim_next(session)
        return RedirectResponse("/review", status_code=303)

    @app.post("/heartbeat")
    async def heartbeat(request: Request) -> Response:
        session, _ = await posted(request)
        if session is None:
            return JSONResponse({"error": "sign in again"}, status_code=401)
        if session.claim is None:
            return JSONResponse({"error": "no task held"}, status_code=409)
        try:
            until = await desk.heartbeat(session.claim.request_id, session.claim.lease_token)
        except StaleLeaseError:
            session.claim, session.flash = None, STALE
            return JSONResponse({"error": STALE}, status_code=409)
        return JSONResponse({"lease_until": until.isoformat()})

    @app.get("/admin", response_class=HTMLResponse)
    async def admin(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_login()
        if session.principal.role is not Role.ADMIN:
            return page(request, "denied.html", 403, session=session)
        return page(request, "admin.html", session=session, stats=await desk.stats(),
                    audit=await desk.audit(limit=200))

    return app


def review_from_form(form: Any, reviewer: str) -> Review:
    """The submitted form as a Review (ranges are checked by the queue)."""
    try:
        step = int(form.get("first_error_step", ""))
        category = ErrorCategory[str(form.get("category") or "UNSPECIFIED")]
        locations = [int(x) for x in form.getlist("location")]
    except (ValueError, KeyError) as exc:
        raise InvalidArgumentError("first_error_step", "pick a step (or No error)") from exc
    contents = [str(x) for x in form.getlist("replacement")]
    replacements = tuple(Replacement(location=loc, content=text.strip())
                         for loc, text in zip(locations, contents, strict=False)
                         if text.strip())
    if step and not replacements:
        raise InvalidArgumentError("replacement", "write at least one replacement step")
    return Review(reviewer=reviewer, status=Status.FOUND_ERROR if step else Status.NO_ERROR,
                  first_error_step=step, replacements=replacements if step else (),
                  category=category if step else ErrorCategory.UNSPECIFIED,
                  explanation=str(form.get("explanation", "")).strip())


async def _quietly(call: Awaitable[None]) -> None:
    with contextlib.suppress(StaleLeaseError):
        await call
