"""The review session: a page on the same host but another port gets the SameSite=Strict cookie attached
by the browser, so every state-changing request must name this service's own origin; bearer clients need
no Origin; sign-out clears the cookie; a public bind needs a long token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from config.components import Components
from config.settings import Settings
from service.app import create_app
from service.auth import UnsafeBind, check_bind
from tests.test_service import MIXED, SECRET, _drain, post_zendesk

TOKEN = "session-token"
OWN = "http://testserver"  # TestClient's origin
OTHER_PORT = "http://testserver:8081"


@pytest.fixture
def client(trained_workspace: Components) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=trained_workspace.settings.data_dir, zendesk_secret=SECRET, api_token=TOKEN, review_undo_s=0
    )
    trained_workspace.history.close()
    with TestClient(create_app(settings, workers=0)) as test_client:
        yield test_client


def _sign_in(client: TestClient) -> None:
    response = client.post("/review/login", data={"token": TOKEN}, headers={"Origin": OWN}, follow_redirects=False)
    assert response.status_code == 303 and "caseworker_token" in client.cookies


def _pending_review(client: TestClient, ticket: str) -> str:
    post_zendesk(client, ticket, *MIXED, f"inv-{ticket}")
    _drain(client)
    items = client.get("/api/reviews", headers={"Authorization": f"Bearer {TOKEN}"}).json()["items"]
    return next(item["id"] for item in items if item["ticket_id"] == f"zendesk:{ticket}")


def _state(client: TestClient, review_id: str) -> str:
    return client.get(f"/api/reviews/{review_id}", headers={"Authorization": f"Bearer {TOKEN}"}).json()["review"][
        "state"
    ]


def test_a_cookie_post_from_another_port_is_refused(client: TestClient) -> None:
    review_id = _pending_review(client, "4601")
    _sign_in(client)
    approve = f"/api/reviews/{review_id}/approve"
    refused = client.post(approve, json={}, headers={"Origin": OTHER_PORT})
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        f"cross-origin request refused: Origin '{OTHER_PORT}' is not this service ({OWN})"
    )
    by_referer = client.post(approve, json={}, headers={"Referer": f"{OTHER_PORT}/evil.html"})
    assert by_referer.status_code == 403 and "Referer" in by_referer.json()["detail"]
    sandboxed = client.post(approve, json={}, headers={"Origin": "null"})
    assert sandboxed.status_code == 403
    neither = client.post(approve, json={})
    assert neither.status_code == 403 and "must carry an Origin or Referer" in neither.json()["detail"]
    assert _state(client, review_id) == "pending"  # nothing above reached the review

    same_origin = client.post(approve, json={}, headers={"Origin": OWN})
    assert same_origin.status_code == 200 and same_origin.json()["review"]["state"] == "approved"


def test_the_page_referer_is_enough_when_there_is_no_origin(client: TestClient) -> None:
    review_id = _pending_review(client, "4602")
    _sign_in(client)
    response = client.post(
        f"/api/reviews/{review_id}/reject", json={"reason": "wrong article"}, headers={"Referer": f"{OWN}/review"}
    )
    assert response.status_code == 200 and response.json()["review"]["state"] == "rejected"


def test_bearer_clients_need_no_origin_but_a_foreign_one_is_still_refused(client: TestClient) -> None:
    review_id = _pending_review(client, "4603")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert "caseworker_token" not in client.cookies
    foreign = client.post(f"/api/reviews/{review_id}/reject", json={"reason": "x"}, headers={**bearer,
                          "Origin": OTHER_PORT})  # fmt: skip
    assert foreign.status_code == 403
    response = client.post(f"/api/reviews/{review_id}/reject", json={"reason": "duplicate"}, headers=bearer)
    assert response.status_code == 200 and response.json()["review"]["state"] == "rejected"


def test_webhooks_are_signature_checked_not_origin_checked(client: TestClient) -> None:
    from tests.zendesk_delivery import signed_zendesk_trigger

    raw, headers = signed_zendesk_trigger(SECRET, "4604", *MIXED, "inv-4604")
    response = client.post("/webhooks/zendesk", content=raw, headers={**headers, "Origin": OTHER_PORT})
    assert response.status_code == 202, response.text


def test_sign_out_clears_the_cookie(client: TestClient) -> None:
    _sign_in(client)
    assert client.get("/api/reviews").status_code == 200
    foreign = client.post("/review/logout", headers={"Origin": OTHER_PORT}, follow_redirects=False)
    assert foreign.status_code == 403 and client.get("/api/reviews").status_code == 200  # still signed in
    response = client.post("/review/logout", headers={"Origin": OWN}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/review/login"
    cleared = response.headers["set-cookie"].lower()
    assert cleared.startswith('caseworker_token="";') and "max-age=0" in cleared and "httponly" in cleared
    assert "caseworker_token" not in client.cookies
    assert client.get("/api/reviews").status_code == 401
    page = client.get("/review", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/review/login"


def test_a_public_bind_needs_a_token_of_32_characters() -> None:
    long_token = "x" * 32
    check_bind("0.0.0.0", long_token)
    for loopback in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
        check_bind(loopback, "short")
        check_bind(loopback, None)
    with pytest.raises(UnsafeBind, match="31-character CASEWORKER_API_TOKEN: a public address needs at least 32"):
        check_bind("0.0.0.0", "x" * 31)
    with pytest.raises(UnsafeBind, match="at least 32"):
        check_bind("192.168.1.5", "review-token")
