"""The Exports page: leads and admins only, a form that creates an export, links that download."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from labeling import services
from labeling.models import DatasetExport, LabelSource
from tests.factories import PolicyFactory, make_items

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def _export_dir(settings, tmp_path):
    settings.REVIEWTOOL_EXPORT_DIR = tmp_path / "exports"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def labels(queue, policy):
    items = make_items(queue, 4)
    for item in items:
        services.label_store(
            item=item,
            policy=policy,
            value="violating",
            source=LabelSource.CONSENSUS,
            agreement=1.0,
            announce=False,
        )
    return items


def login(user):
    client = Client()
    client.force_login(user)
    return client


def test_a_reviewer_gets_403_and_no_nav_link(reviewer, labels):
    client = login(reviewer)
    assert client.get(reverse("exports")).status_code == 403
    assert client.post(reverse("exports"), {"format": "csv"}).status_code == 403
    assert not DatasetExport.objects.exists()
    assert reverse("exports") not in client.get(reverse("queue-list")).content.decode()


def test_a_lead_sees_the_form_and_the_nav_link(lead, labels):
    PolicyFactory(slug="evil", name=f"Evil {SCRIPT}")
    response = login(lead).get(reverse("exports"))

    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="{reverse("exports")}"' in page
    assert 'name="format"' in page and "manage.py export_dataset" in page
    assert SCRIPT not in page and "&lt;script&gt;" in page


def test_a_lead_creates_an_export_from_the_form_and_sees_download_links(lead, labels):
    client = login(lead)
    response = client.post(
        reverse("exports"),
        {
            "format": "csv",
            "policies": ["hate"],
            "sources": ["consensus"],
            "splits": "0.5,0.25,0.25",
            "seed": "2",
            "min_agreement": "0.5",
        },
    )

    assert response.status_code == 302
    export = DatasetExport.objects.get()
    assert export.row_count == 4 and export.datasheet["seed"] == 2
    assert export.created_by == lead
    page = client.get(reverse("exports")).content.decode()
    download = reverse("api-export-download", args=[export.pk, "data.csv"])
    assert download in page
    assert client.get(download).status_code == 200


def test_a_bad_form_shows_the_reason_and_records_nothing(lead, labels):
    client = login(lead)
    response = client.post(reverse("exports"), {"format": "csv", "splits": "0.9,0.9"}, follow=True)
    assert "must sum to 1" in response.content.decode()
    response = client.post(reverse("exports"), {"format": "csv", "golden_only": "on"}, follow=True)
    assert "no labels match these filters" in response.content.decode()
    assert not DatasetExport.objects.exists()
