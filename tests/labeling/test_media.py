"""Media validation by content, storage once per SHA-256, and perceptual hashes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from labeling.media import MediaRejected, hamming, media_inspect
from labeling.media_services import MediaUpload, media_attach
from labeling.models import AuditEvent, ItemMedia, MediaAsset
from reviewtool.exceptions import ValidationFailed
from tests.factories import make_items
from tests.labeling import media_samples as samples


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _inspect(tmp_path: Path, data: bytes, name: str = "upload.bin"):
    path = tmp_path / name
    path.write_bytes(data)
    return media_inspect(path)


def _stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


BAD_INPUTS = {
    "empty": (b"", "empty"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "markup"),
    "xml-svg": (b'  <?xml version="1.0"?>\n<svg/>', "markup"),
    "html-named-png": (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "markup"),
    "html-upper": (b"\xef\xbb\xbf<HTML><BODY>hi</BODY></HTML>", "markup"),
    "script": (b"<script>alert(1)</script>", "markup"),
    "png-plus-zip": (samples.image_bytes("PNG") + b"PK\x03\x04" + bytes(40), "after its end"),
    "png-plus-html": (samples.image_bytes("PNG") + b"<html><script>x</script>", "after its end"),
    "jpeg-plus-data": (samples.image_bytes("JPEG") + b"PK\x03\x04trailing", "after its end"),
    "gif-plus-data": (samples.image_bytes("GIF") + b"extra", "after its end"),
    "zip": (b"PK\x03\x04" + bytes(100), "Unsupported file type"),
    "pdf": (b"%PDF-1.7\n" + bytes(100), "Unsupported file type"),
    "truncated-png": (samples.image_bytes("PNG")[:60], "truncated"),
    "huge-png": (samples.huge_png(), "megapixels"),
    "two-hour-wav": (samples.long_wav_bytes(), "at most 10 minutes"),
    "truncated-mp4": (samples.mp4_bytes()[:1500], "does not decode"),
    "cut-faststart-mp4": (samples.faststart_mp4_bytes()[:40_000], "truncated"),
    "garbage-after-mp4-magic": (b"\x00\x00\x00\x18ftypisom" + bytes(2000), "does not decode"),
    "matroska-not-webm": (b"\x1a\x45\xdf\xa3" + b"matroska" + bytes(100), "Unsupported"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_it_refuses_bad_input_by_content(tmp_path, case):
    data, reason = BAD_INPUTS[case]
    # Every file is called .png: the name never decides what a file is.
    with pytest.raises(MediaRejected) as refusal:
        _inspect(tmp_path, data, "photo.png")
    assert reason in refusal.value.message


@pytest.mark.parametrize(
    ("data", "kind", "mime"),
    [
        (samples.image_bytes("PNG"), "image", "image/png"),
        (samples.image_bytes("JPEG", quality=90), "image", "image/jpeg"),
        (samples.image_bytes("GIF"), "image", "image/gif"),
        (samples.image_bytes("WEBP"), "image", "image/webp"),
        (samples.wav_bytes(), "audio", "audio/wav"),
        (samples.mp4_bytes(), "video", "video/mp4"),
        (samples.webm_bytes(), "video", "video/webm"),
        (samples.faststart_mp4_bytes(seconds=1), "video", "video/mp4"),
    ],
    ids=["png", "jpeg", "gif", "webp", "wav", "mp4", "webm", "faststart-mp4"],
)
def test_it_accepts_good_media_whatever_the_name(tmp_path, data, kind, mime):
    info = _inspect(tmp_path, data, "misleading.txt")
    assert (info.kind, info.mime) == (kind, mime)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.md5 == hashlib.md5(data).hexdigest()  # noqa: S324 - the stored MD5 itself
    assert info.size_bytes == len(data)
    if kind == "image":
        assert (info.width, info.height) == (128, 128)
        assert len(info.pdq) == 64 and len(info.phash) == 16
        assert info.pdq_quality is not None
    if kind == "video":
        assert (info.width, info.height) == (64, 64)
        assert info.keyframe_pdq and all(len(value) == 64 for value in info.keyframe_pdq)
        assert info.pdq == info.keyframe_pdq[0]
    if kind in {"audio", "video"}:
        assert info.duration_seconds == pytest.approx(1.0, abs=0.1)


def test_pdq_of_a_resized_recompressed_copy_is_close_and_of_another_image_far(tmp_path):
    original = samples.pattern(seed=1, size=256)
    copy = original.resize((180, 180), Image.Resampling.LANCZOS)
    first = _inspect(tmp_path, samples.image_bytes("PNG", original), "a")
    recompressed = _inspect(tmp_path, samples.image_bytes("JPEG", copy, quality=60), "b")
    other = _inspect(tmp_path, samples.image_bytes("PNG", samples.pattern(seed=2, size=256)), "c")
    # PDQ's own guidance: 31 bits or fewer of 256 is a match.
    assert hamming(first.pdq, recompressed.pdq) <= 31
    assert hamming(first.pdq, other.pdq) > 64
    assert hamming(first.phash, recompressed.phash) <= 10
    assert hamming(first.phash, other.phash) > hamming(first.phash, recompressed.phash)


def test_pdq_of_a_video_keyframe_matches_the_frame_as_an_image(tmp_path):
    video = _inspect(tmp_path, samples.mp4_bytes(), "v")
    frame = _inspect(tmp_path, samples.image_bytes("PNG", samples.pattern(size=64)), "f")
    other = _inspect(tmp_path, samples.image_bytes("PNG", samples.pattern(seed=5, size=64)), "o")
    # A 64-pixel frame through 4:2:0 H.264 is a rough copy: close, though not PDQ-match close.
    assert hamming(video.keyframe_pdq[0], frame.pdq) <= 64
    assert hamming(video.keyframe_pdq[0], other.pdq) > 96


@pytest.fixture
def item(queue):
    return make_items(queue, 1)[0]


def _upload(data: bytes, name: str = "f.png") -> MediaUpload:
    return MediaUpload(name=name, stream=io.BytesIO(data))


def test_it_stores_each_file_once_by_sha256(item, queue, lead, _media_root):
    data = samples.image_bytes("PNG")
    sha = hashlib.sha256(data).hexdigest()
    media_attach(item=item, uploads=[_upload(data)], actor=lead)
    second_item = make_items(queue, 1, prefix="y")[0]
    media_attach(item=second_item, uploads=[_upload(data, "again.png")], actor=lead)
    assert MediaAsset.objects.count() == 1
    asset = MediaAsset.objects.get()
    assert asset.sha256 == sha
    assert asset.storage_path == f"{sha[:2]}/{sha}"
    assert (Path(_media_root) / sha[:2] / sha).read_bytes() == data
    assert [p.name for p in _stored_files(Path(_media_root)) if ".incoming" not in str(p)] == [sha]
    assert ItemMedia.objects.filter(asset=asset).count() == 2
    assert AuditEvent.objects.filter(action="item.media_attach").count() == 2


def test_it_attaches_several_files_in_order(item, lead):
    files = [samples.image_bytes("JPEG"), samples.wav_bytes(), samples.mp4_bytes()]
    media_attach(item=item, uploads=[_upload(data) for data in files], actor=lead)
    media_attach(item=item, uploads=[_upload(samples.image_bytes("GIF"))], actor=lead)
    kinds = list(item.media.order_by("position").values_list("position", "asset__mime"))
    assert kinds == [(0, "image/jpeg"), (1, "audio/wav"), (2, "video/mp4"), (3, "image/gif")]


@pytest.mark.parametrize("case", ["html-named-png", "png-plus-zip", "huge-png", "two-hour-wav"])
def test_one_refused_file_stores_nothing_at_all(item, lead, _media_root, case):
    good = samples.image_bytes("PNG")
    with pytest.raises(ValidationFailed) as refusal:
        media_attach(
            item=item, uploads=[_upload(good), _upload(BAD_INPUTS[case][0], "x.png")], actor=lead
        )
    assert refusal.value.message.startswith("x.png: ")
    assert "Nothing was stored" in refusal.value.message
    assert MediaAsset.objects.count() == 0
    assert ItemMedia.objects.count() == 0
    assert _stored_files(Path(_media_root)) == []


def test_no_files_is_refused(item, lead):
    with pytest.raises(ValidationFailed, match="No file"):
        media_attach(item=item, uploads=[], actor=lead)


# --- JSONL manifests (import_items --format jsonl) ----------------------------------------------


def _manifest(folder: Path, rows: list[dict]) -> Path:
    import json

    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _import(path: Path):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "import_items",
        str(path),
        "--format=jsonl",
        "--queue=media",
        "--policy=hate",
        "--id-field=external_id",
        "--without-labels",
        stdout=out,
    )
    return out.getvalue()


@pytest.fixture
def manifest_dir(tmp_path, policy):
    folder = tmp_path / "drop"
    (folder / "img").mkdir(parents=True)
    (folder / "img" / "a.png").write_bytes(samples.image_bytes("PNG"))
    (folder / "clip.wav").write_bytes(samples.wav_bytes())
    return folder


def test_a_manifest_imports_items_with_their_media(manifest_dir, _media_root):
    from labeling.models import Item

    path = _manifest(
        manifest_dir,
        [
            {"external_id": "m1", "text": "look", "media": ["img/a.png", "clip.wav"]},
            {"external_id": "m2", "text": "same picture", "media": ["img/a.png"]},
            {"external_id": "m3", "text": "no media"},
        ],
    )
    output = _import(path)
    assert "3 media files attached." in output
    first = Item.objects.get(external_id="m1")
    assert [m.asset.mime for m in first.media.order_by("position")] == ["image/png", "audio/wav"]
    assert MediaAsset.objects.count() == 2  # the shared picture is stored once
    # Re-running creates nothing new.
    _import(path)
    assert ItemMedia.objects.count() == 3


@pytest.mark.parametrize(
    ("media", "message"),
    [
        (["../outside.png"], "'..' is not allowed"),
        (["img/../../outside.png"], "'..' is not allowed"),
        (["/etc/passwd"], "absolute paths are not allowed"),
        (["https://example.com/a.png"], "URLs are not fetched"),
        (["img\\a.png"], "backslashes"),
        (["missing.png"], "no such file"),
        (["link.png"], "outside the manifest's folder"),
        (["evil.png"], "markup"),
        ("img/a.png", "must be a list"),
    ],
)
def test_a_manifest_with_a_bad_media_path_imports_nothing(
    manifest_dir, _media_root, media, message
):
    from django.core.management import CommandError

    from labeling.models import Item

    (manifest_dir.parent / "outside.png").write_bytes(samples.image_bytes("PNG"))
    (manifest_dir / "link.png").symlink_to(manifest_dir.parent / "outside.png")
    (manifest_dir / "evil.png").write_bytes(b"<html><script>alert(1)</script></html>")
    path = _manifest(
        manifest_dir,
        [
            {"external_id": "ok", "text": "fine", "media": ["img/a.png"]},
            {"external_id": "bad", "text": "bad", "media": media},
        ],
    )
    with pytest.raises(CommandError) as error:
        _import(path)
    assert "line 2" in str(error.value) and message in str(error.value)
    assert Item.objects.count() == 0
    assert MediaAsset.objects.count() == 0
    assert _stored_files(Path(_media_root)) == []


# --- exposure budgets of graphic policies ------------------------------------------------------


@pytest.fixture
def graphic_items(queue, policy, lead):
    """Two items with media (highest priority) and one without, in the main queue."""
    from labeling import services

    created = services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(external_id="pic1", text="a", priority=3.0),
            services.ItemInput(external_id="pic2", text="b", priority=2.0),
            services.ItemInput(external_id="plain", text="c", priority=1.0),
        ],
        source="t",
    ).created
    for item in created[:2]:
        media_attach(item=item, uploads=[_upload(samples.image_bytes("PNG"))], actor=lead)
    return {item.external_id: item for item in created}


def _review_next(queue, reviewer):
    from labeling import services

    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None
    services.decision_submit(token=lease.token, reviewer=reviewer, verdicts={"hate": "violating"})
    return lease.item.external_id


def test_past_the_daily_budget_a_reviewer_gets_no_more_media_items(
    graphic_items, queue, policy, reviewer, other_reviewer
):
    from labeling.media_selectors import media_exposure_today

    policy.graphic, policy.daily_exposure_budget = True, 1
    policy.save()
    assert _review_next(queue, reviewer) == "pic1"
    assert media_exposure_today(reviewer=reviewer, policy=policy) == 1
    assert _review_next(queue, reviewer) == "plain"  # pic2 is held back from rita today
    assert _review_next(queue, other_reviewer) == "pic2"  # the budget is per reviewer


def test_a_policy_that_is_not_graphic_has_no_budget(graphic_items, queue, policy, reviewer):
    policy.daily_exposure_budget = 1  # not graphic: the budget does not apply
    policy.save()
    assert [_review_next(queue, reviewer) for _ in range(2)] == ["pic1", "pic2"]


def test_the_wellbeing_page_shows_exposure_to_leads_only(
    graphic_items, queue, policy, reviewer, lead
):
    from django.test import Client

    policy.graphic, policy.daily_exposure_budget = True, 1
    policy.save()
    _review_next(queue, reviewer)
    client = Client()
    client.force_login(reviewer)
    assert client.get("/wellbeing/").status_code == 403
    client.force_login(lead)
    page = client.get("/wellbeing/").content.decode()
    assert "rita" in page and "budget reached" in page
