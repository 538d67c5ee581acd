"""Bearer-token protection for the review API and page.

API clients send `Authorization: Bearer <token>`. A browser logs in once at /review/login and gets the
token back as an HttpOnly, SameSite=Strict cookie, so the page's script never handles the token and
another site can't post decisions with it; service/same_origin.py refuses what a page on the same host and
another port could still make the browser send. With no token configured the service only listens on
127.0.0.1 (enforced by `check_bind`) and everything is open to that machine; on any other address the
token must be at least 32 characters.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import HTTPException, Request, status

COOKIE = "caseworker_token"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: A token guarding a public address must resist guessing: 32 characters (e.g. `openssl rand -hex 24`).
MIN_PUBLIC_TOKEN_CHARS = 32


class UnsafeBind(ValueError):
    """Serving beyond loopback without an API token, or with one too short to resist guessing."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    if is_loopback(host):
        return
    if token is None:
        raise UnsafeBind(
            f"refusing to serve on {host} without an API token: set CASEWORKER_API_TOKEN, or bind to 127.0.0.1"
        )
    if len(token) < MIN_PUBLIC_TOKEN_CHARS:
        raise UnsafeBind(
            f"refusing to serve on {host} with a {len(token)}-character CASEWORKER_API_TOKEN: a public address "
            f"needs at least {MIN_PUBLIC_TOKEN_CHARS} characters (make one with `openssl rand -hex 24`), "
            "or bind to 127.0.0.1"
        )


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(COOKIE)


def is_authorised(request: Request) -> bool:
    expected: str | None = request.app.state.api_token
    return expected is None or token_matches(presented_token(request), expected)


def require_token(request: Request) -> None:
    """FastAPI dependency for the API routes."""
    if not is_authorised(request):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API token (Authorization: Bearer <CASEWORKER_API_TOKEN>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
