"""The live loop on a queue with media: the multimodal encoder trains, scores and reloads.

TF-IDF text encoder (conftest), eager Celery, small generated PNGs; OCR is stubbed so the test
does not depend on tesseract (stored ``extracted_text`` is what the media workers would write).
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image

from activelearning import artifacts, model_setup, services
from activelearning.encoders import MultimodalLoopEncoder, encoder_class, get_encoder
from activelearning.encoders import image as image_module
from activelearning.features import feature_matrix
from activelearning.models import ModelVersion, RunStatus, RunTrigger
from labeling import media_selectors
from labeling import services as labeling_services
from labeling.media_services import MediaUpload, media_attach
from labeling.models import Item, LabelSource, MediaAsset, MediaStatus
from tests.factories import PolicyFactory, make_queue

SPAM_WORDS = ["win cash now", "free prize claim", "click this link to win", "cheap pills offer"]
HAM_WORDS = ["see you at lunch", "meeting moved to three", "thanks for the notes", "call mum"]
CAPTION = "look at this"
_SEEDS = itertools.count(1)


class _StubOcr:
    name = "stub"

    def __init__(self) -> None:
        self.calls = 0

    def read(self, image: Image.Image) -> str:
        self.calls += 1
        red = np.asarray(image)[..., 0].mean() > 128
        return "free prize win cash" if red else "lunch meeting notes"


@pytest.fixture
def ocr(monkeypatch):
    stub = _StubOcr()
    monkeypatch.setattr(image_module, "get_ocr_engine", lambda name: stub)
    return stub


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.REVIEWTOOL_MODEL_DIR = tmp_path / "models"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def spam_policy(db):
    return PolicyFactory(slug="spam", labels=["spam", "ham"], positive_labels=["spam"], severity=2)


@pytest.fixture
def meme_queue(spam_policy, reviewer):
    return make_queue(slug="memes", policies=[spam_policy], reviewers=[reviewer])


def _png(spam: bool, seed: int) -> bytes:
    image = Image.new("RGB", (48, 48), (220, 30, 30) if spam else (30, 30, 220))
    image.putpixel((seed % 48, (seed // 48) % 48), (seed % 256, 7, 7))  # a distinct file each
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _ingest(queue, texts, prefix):
    return labeling_services.items_ingest(
        queue=queue,
        items=[
            labeling_services.ItemInput(external_id=f"{prefix}{index}", text=text)
            for index, text in enumerate(texts)
        ],
        source="test",
    ).created


def _memes(queue, prefix, count, *, spam, ready=True):
    items = _ingest(queue, [CAPTION] * count, prefix)
    for item in items:
        upload = MediaUpload(name="meme.png", stream=io.BytesIO(_png(spam, next(_SEEDS))))
        (link,) = media_attach(item=item, uploads=[upload])
        if ready:
            text = "free prize win cash" if spam else "lunch meeting notes"
            MediaAsset.objects.filter(pk=link.asset_id).update(
                status=MediaStatus.READY, extracted_text=text
            )
    return items


def _label(items, policy, value):
    for item in items:
        labeling_services.label_store(
            item=item, policy=policy, value=value, source=LabelSource.IMPORT, agreement=1.0
        )


def test_the_multimodal_encoder_is_registered_for_artifacts():
    encoder = get_encoder("multimodal")
    assert isinstance(encoder, MultimodalLoopEncoder)
    assert encoder_class("multimodal") is MultimodalLoopEncoder


@pytest.mark.django_db(transaction=True)
def test_a_text_only_policy_keeps_its_text_encoder(meme_queue, spam_policy):
    _ingest(meme_queue, ["hello"], "t")
    assert model_setup.encoder_name(spam_policy) == "tfidf"


@pytest.mark.django_db(transaction=True)
def test_media_items_train_score_and_reload_through_the_loop(meme_queue, spam_policy, ocr):
    spam_text = _ingest(meme_queue, [f"{SPAM_WORDS[i % 4]} {i}" for i in range(8)], "s")
    ham_text = _ingest(meme_queue, [f"{HAM_WORDS[i % 4]} {i}" for i in range(8)], "h")
    _label(spam_text + _memes(meme_queue, "ms", 6, spam=True), spam_policy, "spam")
    _label(ham_text + _memes(meme_queue, "mh", 6, spam=False), spam_policy, "ham")
    pool_text = _ingest(meme_queue, ["win cash now today", "see you at lunch later"], "pt")
    pool_ready = _memes(meme_queue, "pr", 2, spam=True) + _memes(meme_queue, "pq", 2, spam=False)
    pool_raw = _memes(meme_queue, "pu", 1, spam=True, ready=False) + _memes(
        meme_queue, "pv", 1, spam=False, ready=False
    )
    assert model_setup.encoder_name(spam_policy) == "multimodal"

    run = services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.log
    version = ModelVersion.objects.get(pk=run.model_version_id)
    assert version.encoder == "multimodal"
    assert len(version.encoder_version) <= 64
    # The 12 labelled memes' stored OCR text was reused: only the two unprocessed pool images
    # were read, by the training's pool sample (for its decision thresholds), the rescore and
    # the re-rank.
    assert ocr.calls == 6

    pool = pool_text + pool_ready + pool_raw
    scores = {
        item.external_id: item.model_scores["spam"]["proba"]["spam"]
        for item in Item.objects.filter(pk__in=[item.pk for item in pool])
    }
    assert set(scores) == {item.external_id for item in pool}
    # Same caption on every meme: only the image tells spam memes from ham memes.
    assert scores["pr0"] > scores["pq0"] and scores["pr1"] > scores["pq1"]
    assert scores["pu0"] > scores["pv0"]
    assert scores["pt0"] > scores["pt1"]

    artifact = artifacts.load_artifact(version.artifact_path, version.artifact_sha256)
    assert isinstance(artifact.encoder, MultimodalLoopEncoder)
    assert artifact.encoder.version == version.encoder_version
    items = [(item.pk, item.text) for item in pool]
    _, encoder, head = services.champion_model(policy=spam_policy)
    expected = head.predict_proba(feature_matrix(encoder=encoder, items=items))
    reloaded = artifact.head.predict_proba(feature_matrix(encoder=artifact.encoder, items=items))
    np.testing.assert_allclose(reloaded, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.django_db(transaction=True)
def test_media_paths_for_items_lists_files_in_order(meme_queue, ocr):
    (item,) = _memes(meme_queue, "m", 1, spam=True)
    (plain,) = _ingest(meme_queue, ["text only"], "t")
    files = media_selectors.media_paths_for_items([item.pk, plain.pk])
    assert list(files) == [item.pk]
    (only,) = files[item.pk]
    assert only.kind == "image" and only.path.is_file()
    assert only.ready_text == "free prize win cash"
