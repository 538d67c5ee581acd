"""Refuse state-changing requests that another web page made the browser send.

The review cookie is SameSite=Strict, but "site" ignores the port: a page on the same host and another
port (any other local web app) is same-site, so the browser attaches the cookie to its POSTs. Browsers
name the page that caused a request in `Origin` (every POST from fetch or a form) and `Referer`, and no
page can forge either; so every POST/PUT/PATCH/DELETE outside the webhooks must name this service's
own origin (scheme, host and port, as the request reached it). A request with neither header passes
only without the cookie: API clients authenticate with the bearer header, which no page can attach.

Webhooks are exempt: they are server-to-server, authenticated by signatures, and never read the cookie.
Behind a TLS-terminating proxy, forward `Host` and `X-Forwarded-Proto` so the service sees the origin
the browser used.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from service.auth import COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
EXEMPT_PREFIXES = ("/webhooks/",)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, the port filled in from the scheme; None when it names no origin."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def _show(value: str) -> str:
    return repr(value[:100])


def cross_origin_problem(request: Request) -> str | None:
    """Why this state-changing request must be refused, or None when it may proceed."""
    own = _origin(str(request.base_url))
    here = str(request.base_url).rstrip("/")
    origin = request.headers.get("origin")
    if origin is not None:
        if own is not None and _origin(origin) == own:
            return None
        return f"cross-origin request refused: Origin {_show(origin)} is not this service ({here})"
    referer = request.headers.get("referer")
    if referer:
        if own is not None and _origin(referer) == own:
            return None
        return f"cross-origin request refused: Referer {_show(referer)} is not on this service ({here})"
    if COOKIE in request.cookies and "authorization" not in request.headers:
        return (
            "cross-origin check failed: a request signed in with the review cookie must carry an Origin or "
            "Referer header naming this service (API clients: send Authorization: Bearer instead)"
        )
    return None


class SameOriginGuard:
    """ASGI middleware: 403 with the reason for any state-changing request `cross_origin_problem` refuses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            path: str = scope["path"]
            if not path.startswith(EXEMPT_PREFIXES):
                problem = cross_origin_problem(Request(scope))
                if problem is not None:
                    await JSONResponse({"detail": problem}, status_code=403)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
