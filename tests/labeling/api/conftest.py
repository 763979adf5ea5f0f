"""Fixtures of the API tests: clients logged in as each persona, and a few items."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from labeling import services
from labeling.models import Lease
from tests.factories import make_items


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Personas get a password each; the production hasher would spend seconds per test on it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def items(queue):
    return make_items(queue, 3)


@pytest.fixture
def as_reviewer(reviewer):
    return client_for(reviewer)


@pytest.fixture
def as_lead(lead):
    return client_for(lead)


@pytest.fixture
def as_engineer(ml_engineer):
    return client_for(ml_engineer)


@pytest.fixture
def as_senior(senior):
    return client_for(senior)


def token_of(lease: Lease | None) -> uuid.UUID:
    """The token of a lease that must exist and be held (narrows the types for mypy)."""
    assert lease is not None and lease.token is not None
    return lease.token


def take_lease(queue, user):
    lease = services.lease_next(queue=queue, reviewer=user)
    assert lease is not None
    return lease
