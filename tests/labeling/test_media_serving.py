"""The media serving view: who may fetch a file, and the headers that keep it inert."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.test import Client

from labeling.media_services import MediaUpload, media_attach
from tests.factories import PolicyFactory, UserFactory, make_items, make_queue
from tests.labeling import media_samples as samples


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def stored(queue, lead):
    """An item of the main queue carrying a PNG, a WAV and an MP4; their sha256 by kind."""
    item = make_items(queue, 1)[0]
    files = {
        "image": samples.image_bytes("PNG"),
        "audio": samples.wav_bytes(),
        "video": samples.mp4_bytes(),
    }
    media_attach(
        item=item,
        uploads=[MediaUpload(name=f"{k}.bin", stream=io.BytesIO(v)) for k, v in files.items()],
        actor=lead,
    )
    return {kind: hashlib.sha256(data).hexdigest() for kind, data in files.items()}


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def stranger(db):
    """A reviewer of another queue only."""
    user = UserFactory(username="stan", roles=["reviewer"])
    make_queue(slug="other", policies=[PolicyFactory(slug="spam")], reviewers=[user])
    return user


def test_a_reviewer_of_the_queue_gets_the_file(stored, reviewer):
    response = _client(reviewer).get(f"/media/{stored['image']}/")
    assert response.status_code == 200
    assert response.getvalue() == samples.image_bytes("PNG")


@pytest.mark.parametrize("persona", ["ml_engineer", "lead", "admin_user"])
def test_staff_get_any_attached_file(stored, request, persona):
    user = request.getfixturevalue(persona)
    assert _client(user).get(f"/media/{stored['video']}/").status_code == 200


def test_a_reviewer_of_another_queue_gets_404(stored, stranger):
    assert _client(stranger).get(f"/media/{stored['image']}/").status_code == 404


def test_an_account_without_a_role_gets_404(stored, outsider):
    assert _client(outsider).get(f"/media/{stored['image']}/").status_code == 404


def test_anonymous_is_sent_to_log_in(stored):
    response = _client().get(f"/media/{stored['image']}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_an_unknown_hash_is_404_and_a_malformed_one_matches_no_route(stored, lead):
    assert _client(lead).get(f"/media/{'0' * 64}/").status_code == 404
    assert _client(lead).get("/media/../../etc/passwd/").status_code == 404
    assert _client(lead).get(f"/media/{stored['image'][:40]}/").status_code == 404


@pytest.mark.parametrize(
    ("kind", "mime", "extension"),
    [("image", "image/png", "png"), ("audio", "audio/wav", "wav"), ("video", "video/mp4", "mp4")],
)
def test_media_go_out_inert(stored, reviewer, kind, mime, extension):
    response = _client(reviewer).get(f"/media/{stored[kind]}/")
    assert response["Content-Type"] == mime
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="{stored[kind]}.{extension}"'
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "html" not in response["Content-Type"] and "svg" not in response["Content-Type"]


def test_a_stored_type_outside_the_allowlist_is_a_download(stored, reviewer):
    from labeling.models import MediaAsset

    # Cannot happen through ingest; the view still never trusts the row.
    MediaAsset.objects.filter(sha256=stored["image"]).update(mime="text/html")
    response = _client(reviewer).get(f"/media/{stored['image']}/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")


def test_media_root_is_not_served_directly(stored, lead, settings):
    sha = stored["image"]
    for url in (f"/media/{sha[:2]}/{sha}", f"/media/{sha[:2]}/{sha}/", "/media/.incoming/"):
        assert _client(lead).get(url).status_code == 404


def test_the_upload_page_is_for_staff_only(stored, queue, reviewer, lead):
    item = queue.items.get()
    assert _client(reviewer).get(f"/items/{item.pk}/media/").status_code == 403
    page = _client(lead).get(f"/items/{item.pk}/media/")
    assert page.status_code == 200
    assert stored["image"][:10].encode() in page.content


def test_the_upload_page_stores_files_and_reports_refusals(queue, lead):
    item = make_items(queue, 1)[0]
    client = _client(lead)
    good = io.BytesIO(samples.image_bytes("JPEG"))
    good.name = "cat.jpg"
    response = client.post(f"/items/{item.pk}/media/", {"files": [good]}, follow=True)
    assert b"1 file(s) attached." in response.content
    bad = io.BytesIO(b"<html><script>alert(1)</script></html>")
    bad.name = "evil.png"
    response = client.post(f"/items/{item.pk}/media/", {"files": [bad]}, follow=True)
    assert b"evil.png: The file is markup" in response.content
    assert item.media.count() == 1
