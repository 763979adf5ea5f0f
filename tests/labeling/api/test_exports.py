"""The exports API: who may export, what a created export says, and how files are served."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from labeling import services
from labeling.models import DatasetExport, LabelSource
from tests.labeling.api.conftest import client_for

URL = "/api/v1/exports/"


@pytest.fixture(autouse=True)
def _export_dir(settings, tmp_path):
    settings.REVIEWTOOL_EXPORT_DIR = tmp_path / "exports"


@pytest.fixture
def labels(items, policy):
    for index, item in enumerate(items):
        services.label_store(
            item=item,
            policy=policy,
            value=["violating", "borderline", "not_violating"][index % 3],
            source=LabelSource.CONSENSUS,
            agreement=1.0,
            announce=False,
        )
    return items


def create(client, **body):
    return client.post(URL, {"format": "csv", **body}, format="json")


def test_a_lead_creates_an_export_and_gets_its_files(as_lead, labels, tmp_path):
    response = create(as_lead, format="parquet", filters={"policies": ["hate"]}, seed=4)

    assert response.status_code == 201, response.json()
    body = response.json()
    export = DatasetExport.objects.get()
    assert body["id"] == export.pk
    assert body["fingerprint"] == export.fingerprint and len(body["fingerprint"]) == 64
    assert body["row_count"] == 3
    assert body["created_by"] == "lee"
    assert body["datasheet"]["seed"] == 4
    assert body["filters"]["policies"] == ["hate"]
    [entry] = body["files"]
    assert entry["name"] == "data.parquet"
    assert entry["url"].endswith(f"/api/v1/exports/{export.pk}/download/data.parquet")
    assert str(tmp_path / "exports") in export.path


def test_an_admin_may_export_too(admin_user, labels):
    assert create(client_for(admin_user)).status_code == 201


@pytest.mark.parametrize("persona", ["reviewer", "senior", "ml_engineer", "outsider"])
def test_other_roles_may_not_export_or_list(request, persona, labels):
    client = client_for(request.getfixturevalue(persona))

    assert create(client).status_code == 403
    assert client.get(URL).status_code == 403
    assert not DatasetExport.objects.exists()


def test_an_anonymous_request_is_unauthenticated(api_client, labels):
    assert create(api_client).status_code in (401, 403)


def test_the_list_shows_exports_newest_first(as_lead, labels):
    first = create(as_lead).json()["id"]
    second = create(as_lead, format="jsonl").json()["id"]

    body = as_lead.get(URL).json()

    assert [row["id"] for row in body["results"]] == [second, first]
    assert as_lead.get(f"{URL}{first}/").json()["format"] == "csv"
    assert as_lead.get(f"{URL}999999/").status_code == 404


def test_nothing_matching_is_a_400_and_writes_nothing(as_lead, labels, tmp_path):
    response = create(as_lead, filters={"golden_only": True})

    assert response.status_code == 400
    assert response.json()["message"].startswith("no labels match these filters")
    assert not DatasetExport.objects.exists()
    assert not (tmp_path / "exports").exists() or not any((tmp_path / "exports").iterdir())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"splits": [0.8, 0.3]}, "splits"),
        ({"splits": [0.5, 0.2, 0.2, 0.1]}, "splits"),
        ({"filters": {"policies": ["nope"]}}, "policies"),
        ({"filters": {"polices": ["hate"]}}, "filters"),
        ({"filters": {"min_agreement": 2}}, "filters"),
        ({"filters": {"sources": ["guess"]}}, "filters"),
        ({"filters": {"since": "yesterday"}}, "filters"),
    ],
)
def test_bad_bodies_are_400_with_the_field(as_lead, labels, body, field):
    response = create(as_lead, **body)

    assert response.status_code == 400, response.json()
    assert field in str(response.json()["extra"])
    assert not DatasetExport.objects.exists()


def test_download_serves_an_attachment_with_safe_headers(as_lead, labels):
    export = create(as_lead, format="csv").json()
    url = export["files"][0]["url"]

    response = as_lead.get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment")
    assert 'filename="data.csv"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    content = b"".join(response.streaming_content)
    frame = pd.read_csv(io.BytesIO(content))
    assert len(frame) == export["row_count"]


@pytest.mark.parametrize(
    ("fmt", "name", "content_type"),
    [
        ("jsonl", "data.jsonl", "application/x-ndjson"),
        ("parquet", "data.parquet", "application/octet-stream"),
        ("hf", "train.parquet", "application/octet-stream"),
    ],
)
def test_download_content_types(as_lead, labels, fmt, name, content_type):
    export = create(as_lead, format=fmt, splits=[1.0]).json()
    response = as_lead.get(f"{URL}{export['id']}/download/{name}")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type


def test_the_datasheets_can_be_downloaded(as_lead, labels):
    export = create(as_lead).json()
    response = as_lead.get(export["datasheet_url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"# Datasheet")


@pytest.mark.parametrize(
    "name",
    ["../../../etc/passwd", "..%2F..%2Fsettings.py", "data.parquet", ".hidden", "%2Fetc%2Fpasswd"],
)
def test_download_refuses_anything_but_the_listed_files(as_lead, labels, name):
    export = create(as_lead, format="csv").json()
    response = as_lead.get(f"{URL}{export['id']}/download/{name}")
    assert response.status_code == 404


def test_a_reviewer_may_not_download(as_lead, as_reviewer, labels):
    export = create(as_lead).json()
    assert as_reviewer.get(export["files"][0]["url"]).status_code == 403
