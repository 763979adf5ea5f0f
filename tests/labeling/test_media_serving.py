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


# --- byte ranges and validators -----------------------------------------------------------------

INERT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Accept-Ranges": "bytes",
}


def _body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def _assert_inert(response, sha: str) -> None:
    for header, value in INERT_HEADERS.items():
        assert response[header] == value, header
    assert response["Content-Disposition"] == f'inline; filename="{sha}.wav"'
    assert response["ETag"] == f'"{sha}"'


def test_a_full_answer_advertises_ranges_and_a_strong_etag(stored, reviewer):
    response = _client(reviewer).get(f"/media/{stored['audio']}/")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(samples.wav_bytes()))
    assert "Content-Range" not in response
    _assert_inert(response, stored["audio"])
    assert response["Content-Type"] == "audio/wav"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=10-109", 10, 109), ("bytes=100-", 100, None), ("bytes=-64", -64, None)],
)
def test_a_range_gets_206_with_exactly_those_bytes(stored, reviewer, header, first, last):
    data = samples.wav_bytes()
    size = len(data)
    expected = data[first:] if last is None else data[first : last + 1]
    start = first % size
    response = _client(reviewer).get(f"/media/{stored['audio']}/", HTTP_RANGE=header)
    assert response.status_code == 206
    assert response.streaming  # read from the file in blocks, never loaded whole
    assert _body(response) == expected
    assert response["Content-Length"] == str(len(expected))
    assert response["Content-Range"] == f"bytes {start}-{start + len(expected) - 1}/{size}"
    assert response["Content-Type"] == "audio/wav"
    _assert_inert(response, stored["audio"])


def test_a_range_past_the_end_gets_416(stored, reviewer):
    size = len(samples.wav_bytes())
    response = _client(reviewer).get(f"/media/{stored['audio']}/", HTTP_RANGE=f"bytes={size}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"
    assert _body(response) == b""
    _assert_inert(response, stored["audio"])


@pytest.mark.parametrize("header", ["bytes=0-1,4-5", "bytes=9-2", "pages=1-2", "bytes=x-"])
def test_a_malformed_or_multi_range_gets_the_whole_file(stored, reviewer, header):
    response = _client(reviewer).get(f"/media/{stored['audio']}/", HTTP_RANGE=header)
    assert response.status_code == 200
    assert _body(response) == samples.wav_bytes()


def test_if_range_must_match_the_etag_strongly(stored, reviewer):
    url = f"/media/{stored['audio']}/"
    client = _client(reviewer)
    matching = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{stored["audio"]}"')
    assert matching.status_code == 206
    for validator in ('"other"', f'W/"{stored["audio"]}"', "Wed, 21 Oct 2015 07:28:00 GMT"):
        stale = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=validator)
        assert stale.status_code == 200, validator
        assert _body(stale) == samples.wav_bytes()


def test_if_none_match_gets_304_with_the_same_headers(stored, reviewer):
    url = f"/media/{stored['audio']}/"
    client = _client(reviewer)
    for validator in (
        f'"{stored["audio"]}"',
        f'W/"{stored["audio"]}"',
        f'"x", "{stored["audio"]}"',
        "*",
    ):
        response = client.get(url, HTTP_IF_NONE_MATCH=validator, HTTP_RANGE="bytes=0-9")
        assert response.status_code == 304, validator
        assert _body(response) == b""
        _assert_inert(response, stored["audio"])
        assert response["Cache-Control"] == "private, max-age=3600"
    assert client.get(url, HTTP_IF_NONE_MATCH='"other"').status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"HTTP_RANGE": "bytes=0-9"}, {"HTTP_RANGE": "bytes=999999-"}, {"HTTP_IF_NONE_MATCH": "*"}],
)
def test_access_is_checked_before_ranges_and_validators(stored, stranger, headers):
    response = _client(stranger).get(f"/media/{stored['audio']}/", **headers)
    assert response.status_code == 404
    assert "Content-Range" not in response and "ETag" not in response
    assert _client().get(f"/media/{stored['audio']}/", **headers).status_code == 302
