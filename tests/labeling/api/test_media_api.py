"""Media through the API: multipart upload, media in the item and review payloads, preferences."""

from __future__ import annotations

import hashlib
import io

import pytest

from labeling.models import ItemMedia, MediaAsset, ReviewerPreference
from tests.labeling import media_samples as samples
from tests.labeling.api.conftest import client_for


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _file(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _upload(client, item_id: int, *files: tuple[bytes, str]):
    return client.post(
        f"/api/v1/items/{item_id}/media/",
        {"files": [_file(data, name) for data, name in files]},
        format="multipart",
    )


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("ml_engineer", 201),
        ("lead", 201),
        ("admin_user", 201),
        ("reviewer", 403),
        ("senior", 403),
        ("outsider", 403),
        (None, 401),
    ],
)
def test_who_may_upload(request, items, persona, expected):
    user = request.getfixturevalue(persona) if persona else None
    response = _upload(client_for(user), items[0].pk, (samples.image_bytes("PNG"), "a.png"))
    assert response.status_code == expected
    assert MediaAsset.objects.count() == (1 if expected == 201 else 0)


def test_upload_returns_the_stored_media(as_engineer, items):
    png, wav = samples.image_bytes("PNG"), samples.wav_bytes()
    response = _upload(as_engineer, items[0].pk, (png, "a.png"), (wav, "b.wav"))
    assert response.status_code == 201
    body = response.json()
    assert [entry["kind"] for entry in body] == ["image", "audio"]
    assert body[0]["sha256"] == hashlib.sha256(png).hexdigest()
    assert body[0]["url"] == f"/media/{body[0]['sha256']}/"
    assert len(body[0]["pdq"]) == 64
    assert body[1]["mime"] == "audio/wav" and body[1]["pdq"] == ""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><script>alert(1)</script></html>", "markup"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "markup"),
        (b"", "empty"),
        (samples.image_bytes("PNG") + b"PK\x03\x04zip", "after its end"),
        (samples.huge_png(), "megapixels"),
        (samples.long_wav_bytes(), "at most 10 minutes"),
        (samples.mp4_bytes()[:1500], "does not decode"),
    ],
    ids=["html", "svg", "empty", "polyglot", "bomb", "two-hours", "truncated-mp4"],
)
def test_refusals_are_400_with_a_message_and_store_nothing(
    as_lead, items, _media_root, data, message
):
    response = _upload(
        as_lead, items[0].pk, (samples.image_bytes("GIF"), "ok.gif"), (data, "x.png")
    )
    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("x.png: ") and message in body["message"]
    assert body["extra"]["file"] == "x.png"
    assert MediaAsset.objects.count() == 0 and ItemMedia.objects.count() == 0
    assert not [path for path in _media_root.rglob("*") if path.is_file()]


def test_no_files_is_400(as_lead, items):
    response = as_lead.post(f"/api/v1/items/{items[0].pk}/media/", {}, format="multipart")
    assert response.status_code == 400


def test_an_item_of_a_queue_you_cannot_see_is_404(as_lead, items, reviewer):
    assert _upload(as_lead, 999_999, (samples.image_bytes("PNG"), "a.png")).status_code == 404


def test_the_item_api_lists_media(as_engineer, as_reviewer, items):
    png = samples.image_bytes("PNG")
    _upload(as_engineer, items[0].pk, (png, "a.png"), (samples.mp4_bytes(), "v.mp4"))
    MediaAsset.objects.filter(kind="image").update(extracted_text="OCR says hi", status="ready")
    body = as_reviewer.get(f"/api/v1/items/{items[0].pk}/").json()
    image, video = body["media"]
    assert image == {
        "kind": "image",
        "mime": "image/png",
        "sha256": hashlib.sha256(png).hexdigest(),
        "size_bytes": len(png),
        "width": 128,
        "height": 128,
        "duration_seconds": None,
        "pdq": image["pdq"],
        "pdq_quality": image["pdq_quality"],
        "keyframe_pdq": [],
        "phash": image["phash"],
        "extracted_text": "OCR says hi",
        "status": "ready",
        "url": f"/media/{image['sha256']}/",
    }
    assert video["kind"] == "video" and video["keyframe_pdq"][0] == video["pdq"]
    listed = as_reviewer.get("/api/v1/items/").json()["results"]
    assert {len(entry["media"]) for entry in listed} == {0, 2}


def test_the_review_payload_carries_the_items_media(as_engineer, as_reviewer, items):
    top = items[-1]
    _upload(as_engineer, top.pk, (samples.image_bytes("JPEG"), "a.jpg"))
    body = as_reviewer.post("/api/v1/queues/main/next/", format="json").json()
    assert body["item"]["id"] == top.pk
    assert [entry["mime"] for entry in body["item"]["media"]] == ["image/jpeg"]


def test_media_start_hidden_until_a_reviewer_opts_in(as_reviewer, reviewer):
    url = "/api/v1/me/preferences/"
    assert as_reviewer.get(url).json() == {"reveal_media_by_default": False}
    response = as_reviewer.put(url, {"reveal_media_by_default": True}, format="json")
    assert response.json() == {"reveal_media_by_default": True}
    assert ReviewerPreference.objects.get(user=reviewer).reveal_media_by_default
    assert as_reviewer.put(url, {"reveal_media_by_default": "x"}, format="json").status_code == 400
    assert client_for(None).get(url).status_code == 401


def test_a_lead_marks_a_policy_graphic_with_a_daily_budget(as_lead, as_reviewer, policy):
    url = f"/api/v1/policies/{policy.slug}/"
    change = {"graphic": True, "daily_exposure_budget": 40}
    response = as_lead.patch(url, change, format="json")
    assert response.status_code == 200
    assert {key: response.json()[key] for key in change} == change
    assert as_reviewer.patch(url, {"graphic": False}, format="json").status_code == 403
    bad = as_lead.patch(url, {"daily_exposure_budget": -1}, format="json")
    assert bad.status_code == 400
