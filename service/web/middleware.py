"""Middlewares: request ids, domain errors to answers, security headers, CSRF, body limits.

CSRF: every state-changing request must come from our own origin (Origin, else Referer,
when the browser sends one) and carry the form field `csrf_token` (or the header
`X-CSRF-Token`) equal to the `bb_csrf` cookie, compared in constant time. Handlers that
must accept foreign POSTs (RFC 8058 one-click unsubscribe, the bearer-token API) are
marked with `@csrf_exempt`.

Text: no field of a form (nor of a query string) with a control character reaches a
handler unseen: NUL cannot even be a parameter of a PostgreSQL query (a signup or a search
with one was a 500; SQLite stored it). The page is refused with a 422 naming the field, or,
for a handler marked `@shows_field_errors`, the handler is told (`request["control_fields"]`)
and shows the error at the field itself.

Bodies: nothing is read before it may be. A POST without the CSRF cookie is refused
unread; so is a POST to a staff page without a session of the right role. A body is at
most `DEFAULT_BODY_BYTES` (a form's size); a handler marked `@body_limit(n)` takes up to
n (CSV imports, attachments, the campaign editor), and a limit above the default is only
granted to a signed-in staff member. A Content-Length over the limit gets 413 at once; a
body sent without one is cut off at the limit.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from service import logs
from service.errors import DomainError
from service.staff.auth import check_access
from service.web.keys import RUNTIME

log = logging.getLogger(__name__)

CSRF_COOKIE = "bb_csrf"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


DEFAULT_BODY_BYTES = 64 * 1024  # any form a visitor or staff member fills in by hand
FORM_BODY_BYTES = 1024 * 1024  # the campaign editor (a body of up to 200,000 characters)
UPLOAD_BODY_BYTES = 12 * 1024 * 1024  # CSV imports and attachments


def csrf_exempt(handler):
    handler.csrf_exempt = True
    return handler


def shows_field_errors(handler):
    """The handler shows a control character's error at its field (`request["control_fields"]`)."""
    handler.shows_field_errors = True
    return handler


# Tab, line feed and carriage return are text (a textarea has them); no other control character is.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
FIELD_LABELS = {"email": "E-mail", "name": "Navn", "organisation": "Organisation", "topics": "Emner", "q": "Søg",
                "title": "Overskrift", "lead": "Manchet", "body_md": "Brødtekst", "consent_source": "Samtykkekilde",
                "municipalities": "Kommuner", "note": "Note", "url": "Adresse", "password": "Adgangskode",
                "name_da": "Navn (dansk)", "name_en": "Navn (engelsk)", "slug": "Kort navn", "outlet": "Medie"}


def control_fields(values) -> list[str]:
    """The names of the text fields in `values` (a form or a query) holding a control character."""
    return list(dict.fromkeys(k for k, v in values.items() if isinstance(v, str) and CONTROL.search(v)))


def control_message(lang: str = "da") -> str:
    if lang == "en":
        return "This field holds an invisible control character (such as NUL) that cannot be saved. Please type it again."
    return "Feltet indeholder et usynligt styretegn (fx NUL), som ikke kan gemmes. Skriv teksten igen."


@web.middleware
async def control_characters(request: web.Request, handler):
    bad = control_fields(request.query)
    if (not bad and request.method not in SAFE_METHODS and not getattr(handler, "csrf_exempt", False)
            and request.content_type in FORM_TYPES):
        bad = control_fields(await request.post())
    if bad:
        if getattr(handler, "shows_field_errors", False):
            request["control_fields"] = bad
        else:
            names = ", ".join(f"»{FIELD_LABELS.get(b, b)}«" for b in bad)
            raise web.HTTPUnprocessableEntity(text=(
                f"Feltet {names} indeholder et usynligt styretegn (fx NUL), som ikke kan gemmes. "
                "Gå tilbage, skriv teksten igen, og send formularen igen."))
    return await handler(request)


def body_limit(max_bytes: int):
    """Let a staff handler take a body of up to `max_bytes` (after the login check)."""

    def mark(handler):
        handler.body_limit = max_bytes
        return handler

    return mark


def _page(request: web.Request, status: int, message: str) -> web.Response:
    from service.web.templating import render

    if request.path.startswith("/api/"):
        return web.json_response({"error": message}, status=status)
    try:
        lang = "en" if request.query.get("lang") == "en" else "da"
        return render(request, "error.html", {"status": status, "message": message, "lang": lang}, status=status)
    except Exception:  # the error page itself must never fail
        log.exception("error page failed")
        return web.Response(text=message or "Fejl", status=status)


@web.middleware
async def request_ids(request: web.Request, handler):
    """Every request gets an id: in each log line about it and in the X-Request-Id header."""
    rid = secrets.token_hex(8)
    logs.request_id.set(rid)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-Id"] = rid
        raise
    response.headers["X-Request-Id"] = rid
    return response


@web.middleware
async def errors(request: web.Request, handler):
    try:
        return await handler(request)
    except DomainError as exc:
        return _page(request, exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        default = exc.text in (None, "", f"{exc.status}: {exc.reason}")
        return _page(request, exc.status, "" if default else exc.text)  # the page says it in the reader's language
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _page(request, 500, "")


@web.middleware
async def security_headers(request: web.Request, handler):
    response = await handler(request)
    h = response.headers
    h.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    if request.app[RUNTIME].settings.service.base_url.startswith("https://"):
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _same_origin(request: web.Request) -> bool:
    claimed = request.headers.get("Origin") or request.headers.get("Referer")
    if not claimed or claimed == "null" and "Origin" not in request.headers:
        return True  # no header sent: the token check below still applies
    parts = urlsplit(claimed)
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = {request.app[RUNTIME].settings.service.base_url.rstrip("/"), f"{request.scheme}://{request.host}"}
    return origin in {urlsplit(a)._replace(path="").geturl().rstrip("/") for a in allowed}


EXPIRED = "Formularen var udløbet eller ugyldig. Gå tilbage, genindlæs siden og prøv igen."


async def _may_read(request: web.Request, handler) -> web.Request:
    """Refuse, before a byte of the body is read, what may not send one; the request to go on with."""
    roles = getattr(handler, "roles", None)  # set by `require_role`
    limit = getattr(handler, "body_limit", DEFAULT_BODY_BYTES)
    if roles is not None:
        await check_access(request, roles)
    elif limit > DEFAULT_BODY_BYTES:  # a large body only ever goes to a staff page
        limit = DEFAULT_BODY_BYTES
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length,
                                            text=f"Det sendte er for stort (højst {limit // 1024} KB).")
    return request.clone(client_max_size=limit) if limit != DEFAULT_BODY_BYTES else request


@web.middleware
async def csrf(request: web.Request, handler):
    cookie = request.cookies.get(CSRF_COOKIE, "")
    fresh = not (16 <= len(cookie) <= 128)
    request["csrf_token"] = secrets.token_urlsafe(32) if fresh else cookie
    if request.method not in SAFE_METHODS and not getattr(handler, "csrf_exempt", False):
        if not _same_origin(request):
            raise web.HTTPForbidden(text="Forespørgslen kom fra et andet websted og blev afvist.")
        if fresh:
            raise web.HTTPForbidden(text=EXPIRED)
        request = await _may_read(request, handler)
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and request.content_type in FORM_TYPES:
            sent = str((await request.post()).get(CSRF_FIELD, ""))
        if not sent or not hmac.compare_digest(sent.encode(), cookie.encode()):
            raise web.HTTPForbidden(text=EXPIRED)
    response = await handler(request)
    if fresh and isinstance(response, web.StreamResponse) and not response.prepared:
        secure = request.app[RUNTIME].settings.service.base_url.startswith("https://")
        response.set_cookie(CSRF_COOKIE, request["csrf_token"], httponly=True, samesite="Lax", secure=secure, path="/")
    return response
