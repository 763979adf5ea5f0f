"""Personas and shared fixtures. Unit tests run Celery tasks eagerly (in-process)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from labeling.models import Roles
from tests.factories import PolicyFactory, UserFactory, make_queue

# Under CI=true, integration/browser/dataset tests must run: a skip there is a failure.
pytest_plugins = ["tests.plugins.required_markers"]


@pytest.fixture(scope="session", autouse=True)
def onnx_cache_dir(tmp_path_factory) -> Iterator[Path]:
    """Where MiniLM's ONNX export goes: one export per session, shared by every test that embeds.

    Exporting costs seconds, so it happens only when a test first needs it. A developer may set
    ``REVIEWTOOL_ONNX_CACHE`` to keep one export across sessions.
    """
    configured = os.environ.get("REVIEWTOOL_ONNX_CACHE")
    if configured:
        yield Path(configured)
        return
    with pytest.MonkeyPatch.context() as patch:
        directory = tmp_path_factory.mktemp("onnx-cache")
        patch.setenv("REVIEWTOOL_ONNX_CACHE", str(directory))
        yield directory


@pytest.fixture(autouse=True)
def _celery_eager(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # The machine loop stays quiet in unit tests unless a test turns it on: no embedding on
    # ingest, no retrain trigger, and the fast TF-IDF encoder.
    settings.REVIEWTOOL_EMBED_ON_INGEST = False
    settings.REVIEWTOOL_PROCESS_MEDIA = False
    settings.REVIEWTOOL_RETRAIN_EVERY = 0
    settings.REVIEWTOOL_TEXT_ENCODER = "tfidf"
    # Hashing test passwords with PBKDF2 costs about a second per test user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    from reviewtool.celery import app

    app.conf.task_always_eager = True
    cache.clear()  # debounce keys (queue statistics) must not leak from one test to the next
    yield


@pytest.fixture
def reviewer(db):
    return UserFactory(username="rita", roles=[Roles.REVIEWER])


@pytest.fixture
def other_reviewer(db):
    return UserFactory(username="oscar", roles=[Roles.REVIEWER])


@pytest.fixture
def senior(db):
    return UserFactory(username="sam", roles=[Roles.SENIOR_REVIEWER])


@pytest.fixture
def ml_engineer(db):
    return UserFactory(username="mel", roles=[Roles.ML_ENGINEER])


@pytest.fixture
def lead(db):
    return UserFactory(username="lee", roles=[Roles.LEAD])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", roles=[Roles.ADMIN])


@pytest.fixture
def outsider(db):
    """Logged in, but holds no role and belongs to no queue."""
    return UserFactory(username="olga")


@pytest.fixture
def policy(db):
    return PolicyFactory(slug="hate", name="Hate speech")


@pytest.fixture
def queue(db, policy, reviewer, other_reviewer, senior):
    return make_queue(slug="main", policies=[policy], reviewers=[reviewer, other_reviewer, senior])


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def datasets_dir(settings):
    """The folder of real datasets (``settings.REVIEWTOOL_DATASETS``); skips the test without it."""
    from pathlib import Path

    path = Path(settings.REVIEWTOOL_DATASETS)
    if not path.is_dir():
        pytest.skip(f"datasets folder {path} not found (set REVIEWTOOL_DATASETS)")
    return path
