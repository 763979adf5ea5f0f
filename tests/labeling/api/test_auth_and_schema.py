"""Authentication (token for services, session with CSRF for the browser) and the schema."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.models import Item

pytestmark = pytest.mark.django_db

API_PATHS = [
    "/api/v1/auth/token/",
    "/api/v1/policies/",
    "/api/v1/policies/{slug}/",
    "/api/v1/queues/",
    "/api/v1/queues/{slug}/",
    "/api/v1/queues/{slug}/next/",
    "/api/v1/items/",
    "/api/v1/items/{item_id}/",
    "/api/v1/decisions/",
    "/api/v1/decisions/{decision_id}/undo/",
    "/api/v1/leases/{token}/skip/",
    "/api/v1/leases/{token}/escalate/",
    "/api/v1/labels/",
    "/api/v1/adjudications/",
]


def test_a_service_obtains_a_token_and_posts_items(ml_engineer, queue):
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/",
        {"username": ml_engineer.username, "password": "pw-for-tests-1"},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=ml_engineer).key == token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    posted = client.post(
        "/api/v1/items/", {"queue": "main", "items": [{"external_id": "a"}]}, format="json"
    )
    assert posted.status_code == 201
    assert Item.objects.filter(external_id="a").exists()


def test_a_wrong_password_gets_no_token(ml_engineer):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": ml_engineer.username, "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert not Token.objects.exists()


def test_a_bad_token_is_401(queue):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/items/").status_code == 401


def test_no_credentials_is_401_with_a_challenge(queue):
    response = APIClient().get("/api/v1/queues/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "message": "Authentication credentials were not provided.",
        "extra": {},
    }


def test_session_writes_need_a_csrf_token(reviewer, queue):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert client.get("/api/v1/queues/").status_code == 200
    response = client.post("/api/v1/queues/main/next/")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


def test_session_writes_with_a_csrf_token_pass(reviewer, queue):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    token = "a1" * 16  # a CSRF secret as the browser would hold it: cookie and header agree
    client.cookies["csrftoken"] = token
    response = client.post("/api/v1/queues/main/next/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 204


def test_the_schema_answers_and_lists_the_api():
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in API_PATHS:
        assert path in paths, path
    next_item = paths["/api/v1/queues/{slug}/next/"]["post"]["responses"]
    assert {"200", "204", "409"} <= set(next_item)


def test_the_docs_page_answers():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200


def test_the_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/queues/{slug}/next/" in target.read_text()
