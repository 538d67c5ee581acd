"""The review page (static HTML/JS from service/static), its sign-in and sign-out."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from service.auth import COOKIE, is_authorised, token_matches

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)

_LOGIN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Caseworker review: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/review.css"></head>
<body class="login"><main><h1>Caseworker review</h1>
<form method="post" action="/review/login">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit" id="login">Sign in</button>
<p class="error" role="alert">{error}</p>
</form></main></body></html>"""


@router.get("/", response_class=RedirectResponse)
def root() -> RedirectResponse:
    return RedirectResponse("/review", status_code=303)


@router.get("/review")
def review_page(request: Request) -> Response:
    if not is_authorised(request):
        return RedirectResponse("/review/login", status_code=303)
    return FileResponse(STATIC_DIR / "review.html", headers={"Cache-Control": "no-store"})


@router.get("/insights")
def insights_page(request: Request) -> Response:
    """Volume with the forecast band, the incident timeline and the accounts list (same sign-in as /review)."""
    if not is_authorised(request):
        return RedirectResponse("/review/login", status_code=303)
    return FileResponse(STATIC_DIR / "insights.html", headers={"Cache-Control": "no-store"})


@router.get("/review/login", response_class=HTMLResponse)
def login_form() -> HTMLResponse:
    return HTMLResponse(_LOGIN.format(error=""))


@router.post("/review/login")
def login(request: Request, token: str = Form(...)) -> Response:
    expected: str | None = request.app.state.api_token
    if expected is not None and not token_matches(token, expected):
        return HTMLResponse(_LOGIN.format(error="That token is not right."), status_code=401)
    response = RedirectResponse("/review", status_code=303)
    if expected is not None:
        secure = request.url.scheme == "https"
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=12 * 3600)
    return response


@router.post("/review/logout")
def logout(request: Request) -> Response:
    """Sign out: the cookie is HttpOnly, so only the server can clear it (same-origin POSTs only, like any change)."""
    response = RedirectResponse("/review/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response
