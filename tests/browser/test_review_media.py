"""Media on the review page start shielded: blurred, greyscale, muted; V reveals them."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect

from labeling import services
from labeling.media_services import MediaUpload, media_attach
from labeling.models import MediaAsset, Roles
from tests.browser.test_review_flow import log_in
from tests.factories import PolicyFactory, UserFactory, make_queue
from tests.labeling import media_samples as samples

pytestmark = [pytest.mark.browser]

HOSTILE_OCR = "<img src=x onerror=window.__pwned=1> caption"


@pytest.fixture
def media_setup(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    reviewer = UserFactory(username="kim", roles=[Roles.REVIEWER])
    queue = make_queue(slug="main", policies=[PolicyFactory(slug="gore")], reviewers=[reviewer])
    item = services.items_ingest(
        queue=queue, items=[services.ItemInput(external_id="m", text="has media")], source="t"
    ).created[0]
    media_attach(
        item=item,
        uploads=[
            MediaUpload(name="a.png", stream=io.BytesIO(samples.image_bytes("PNG"))),
            MediaUpload(name="b.wav", stream=io.BytesIO(samples.wav_bytes())),
        ],
    )
    MediaAsset.objects.filter(kind="image").update(extracted_text=HOSTILE_OCR)
    MediaAsset.objects.filter(kind="audio").update(extracted_text="the transcript")
    return reviewer


def test_images_start_blurred_and_v_reveals_them(page, media_setup):
    log_in(page, "kim")
    page.goto("/queues/main/review/")
    frame = page.locator("#item-media-list .media-frame")
    expect(frame).to_have_class("media-frame media-shielded")
    image = frame.locator("img")
    expect(image).to_be_visible()
    assert "blur(24px)" in image.evaluate("node => getComputedStyle(node).filter")
    # The image really loads from the serving view.
    page.wait_for_function("document.querySelector('#item-media-list img').naturalWidth > 0")
    page.locator("#item").focus()
    page.keyboard.press("v")
    expect(frame).to_have_class("media-frame")
    assert image.evaluate("node => getComputedStyle(node).filter") == "none"
    page.keyboard.press("v")
    expect(frame).to_have_class("media-frame media-shielded")
    # OCR text and transcript are shown as text, never as markup.
    expect(page.locator(".media-image .media-text")).to_have_text(HOSTILE_OCR)
    expect(page.locator(".media-audio .media-text")).to_have_text("the transcript")
    assert page.evaluate("window.__pwned") is None
    audio = page.locator(".media-audio audio")
    assert audio.evaluate("node => node.muted && node.preload === 'none'")


def test_the_reveal_preference_is_saved_and_used(page, media_setup):
    log_in(page, "kim")
    page.goto("/queues/main/review/")
    expect(page.locator(".media-frame")).to_have_class("media-frame media-shielded")
    with page.expect_response("**/api/v1/me/preferences/"):
        page.locator("#reveal-media-default").check()
    page.reload()
    expect(page.locator("#reveal-media-default")).to_be_checked()
    expect(page.locator(".media-frame")).to_have_class("media-frame")
