"""``GET /healthz`` answers 200 when the database and the broker answer, 503 when one does not."""

from __future__ import annotations

import pytest

from reviewtool.celery import app as celery_app


@pytest.mark.django_db
def test_healthz_is_ok_with_the_database_and_the_default_filesystem_broker(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


@pytest.fixture
def unreachable_broker():
    # Nothing listens on port 1.
    previous = celery_app.conf.broker_url
    celery_app.conf.update(broker_url="redis://127.0.0.1:1/0")
    yield
    celery_app.conf.update(broker_url=previous)


@pytest.mark.django_db
@pytest.mark.usefixtures("unreachable_broker")
def test_healthz_is_503_when_the_broker_is_unreachable(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["broker"] == {"ok": False, "detail": "OperationalError"}
