"""The multimodal encoder reads item text vectors from the Embedding table: a pretrained text
encoder is not asked again for texts whose vectors are stored, and the features do not change."""

from __future__ import annotations

import hashlib
import io
import itertools
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

from activelearning import model_setup, services
from activelearning.encoders import (
    Encoder,
    FusionEncoder,
    MultimodalLoopEncoder,
    TfidfEncoder,
    multimodal_encoder,
)
from activelearning.encoders import image as image_module
from activelearning.encoders.precomputed import PrecomputedEncoder, with_precomputed
from activelearning.features import encoder_fit, feature_matrix, item_analyses
from activelearning.models import Embedding, RunStatus, RunTrigger
from labeling import services as labeling_services
from labeling.media_services import MediaUpload, media_attach
from labeling.models import LabelSource, MediaAsset, MediaStatus
from tests.factories import PolicyFactory, make_queue

SPAM_TEXTS = ["win cash now", "free prize claim", "click this link to win", "cheap pills offer"]
HAM_TEXTS = ["see you at lunch", "meeting moved to three", "thanks for the notes", "call mum"]
SPAM_OCR, HAM_OCR = "free prize win cash", "lunch meeting notes"
_SEEDS = itertools.count(1)


class CountingEncoder(Encoder):
    """A pretrained stand-in for MiniLM: a fixed pseudo-random vector per text; it records
    every text it is asked to encode (in ``transformed``, shared by all instances, since the
    loop reloads encoders from artifacts)."""

    name = "counting-test"
    requires_fit = False
    transformed: ClassVar[list[str]] = []

    @property
    def version(self) -> str:
        return "1"

    @property
    def dimension(self) -> int:
        return 8

    def fit(self, texts):
        return self

    def transform(self, texts, *, batch_size=256, progress=None):
        CountingEncoder.transformed.extend(texts)
        rows = [
            np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest()[:12], 16))
            .standard_normal(8)
            .astype(np.float32)
            for text in texts
        ]
        return np.stack(rows) if rows else np.zeros((0, 8), dtype=np.float32)

    def to_state(self):
        return {"name": self.name, "version": self.version}, {}

    @classmethod
    def from_state(cls, metadata, arrays):
        return cls()


class _StubOcr:
    name = "stub"

    def read(self, image: Image.Image) -> str:
        return SPAM_OCR if np.asarray(image)[..., 0].mean() > 128 else HAM_OCR


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path, monkeypatch):
    settings.REVIEWTOOL_MODEL_DIR = tmp_path / "models"
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(image_module, "get_ocr_engine", lambda name: _StubOcr())
    CountingEncoder.transformed.clear()


def _fusion() -> Encoder:
    return FusionEncoder([CountingEncoder(), TfidfEncoder(n_components=4)])


TEXT_ENCODERS = {"pretrained": CountingEncoder, "fusion": _fusion}


def _png(spam: bool) -> bytes:
    image = Image.new("RGB", (48, 48), (220, 30, 30) if spam else (30, 30, 220))
    seed = next(_SEEDS)
    image.putpixel((seed % 48, (seed // 48) % 48), (seed % 256, 7, 7))  # a distinct file each
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _ingest(queue, texts, prefix, *, spam=None):
    """Items with ``texts``; with ``spam`` set, each also carries a processed meme."""
    items = labeling_services.items_ingest(
        queue=queue,
        items=[
            labeling_services.ItemInput(external_id=f"{prefix}{index}", text=text)
            for index, text in enumerate(texts)
        ],
        source="test",
    ).created
    for item in items if spam is not None else []:
        upload = MediaUpload(name="meme.png", stream=io.BytesIO(_png(spam)))
        (link,) = media_attach(item=item, uploads=[upload])
        MediaAsset.objects.filter(pk=link.asset_id).update(
            status=MediaStatus.READY, extracted_text=SPAM_OCR if spam else HAM_OCR
        )
    return items


def _label(items, policy, value):
    for item in items:
        labeling_services.label_store(
            item=item, policy=policy, value=value, source=LabelSource.IMPORT, agreement=1.0
        )


@pytest.fixture
def spam_policy(db):
    return PolicyFactory(slug="spam", labels=["spam", "ham"], positive_labels=["spam"])


@pytest.fixture
def meme_queue(spam_policy):
    return make_queue(slug="memes", policies=[spam_policy])


def _item_texts(items) -> set[str]:
    return {item.text for item in items if item.text}


@pytest.mark.django_db
@pytest.mark.parametrize("text_encoder", sorted(TEXT_ENCODERS))
def test_stored_item_vectors_replace_the_text_encoder_with_the_same_features(
    meme_queue, text_encoder
):
    items = _ingest(meme_queue, [*SPAM_TEXTS, ""], "t") + _ingest(
        meme_queue, [f"caption {i}" for i in range(3)], "m", spam=True
    )
    pairs = [(item.pk, item.text) for item in items]
    encoder = multimodal_encoder(TEXT_ENCODERS[text_encoder](), ocr_engine="stub")
    encoder_fit(encoder=encoder, items=pairs)
    uncached = encoder.encode_analyses(item_analyses(encoder=encoder, items=pairs))

    CountingEncoder.transformed.clear()
    first = feature_matrix(encoder=encoder, items=pairs)
    # The first pass encodes each item text once and stores it, as the embed task would.
    assert set(CountingEncoder.transformed) == _item_texts(items) | {SPAM_OCR}
    assert Embedding.objects.filter(encoder="counting-test", encoder_version="1").count() == 7

    CountingEncoder.transformed.clear()
    second = feature_matrix(encoder=encoder, items=pairs)
    assert CountingEncoder.transformed == [SPAM_OCR]  # media text only: not stored per item
    np.testing.assert_array_equal(first, uncached)
    np.testing.assert_array_equal(second, uncached)


def test_only_pretrained_blocks_take_precomputed_vectors():
    tfidf = TfidfEncoder(n_components=2).fit(["a b", "b c", "c d"])
    known = {("counting-test", "1"): {"x": np.ones(8, dtype=np.float32)}}
    fusion = with_precomputed(FusionEncoder([CountingEncoder(), tfidf]), known)
    assert isinstance(fusion, FusionEncoder)
    assert isinstance(fusion.encoders[0], PrecomputedEncoder) and fusion.encoders[1] is tfidf
    assert with_precomputed(tfidf, known) is tfidf
    assert isinstance(with_precomputed(CountingEncoder(), {}), CountingEncoder)
    view = with_precomputed(CountingEncoder(), known)
    np.testing.assert_array_equal(view.transform(["x"]), np.ones((1, 8), dtype=np.float32))
    assert CountingEncoder.transformed == []


@pytest.mark.django_db(transaction=True)
def test_training_and_rescoring_again_reuses_stored_item_vectors(
    meme_queue, spam_policy, monkeypatch
):
    monkeypatch.setattr(
        model_setup,
        "encoder_for",
        lambda policy: multimodal_encoder(_fusion(), ocr_engine="stub"),
    )
    spam = _ingest(meme_queue, [f"{SPAM_TEXTS[i % 4]} {i}" for i in range(8)], "s")
    ham = _ingest(meme_queue, [f"{HAM_TEXTS[i % 4]} {i}" for i in range(8)], "h")
    spam += _ingest(meme_queue, [f"look {i}" for i in range(4)], "ms", spam=True)
    ham += _ingest(meme_queue, [f"look {i}" for i in range(4, 8)], "mh", spam=False)
    _label(spam, spam_policy, "spam")
    _label(ham, spam_policy, "ham")
    pool = _ingest(meme_queue, ["win cash now today", "see you at lunch later"], "p")
    pool += _ingest(meme_queue, ["look here"], "pm", spam=True)
    item_texts = _item_texts(spam + ham + pool)

    first = services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED, first.log
    assert item_texts <= set(CountingEncoder.transformed)

    CountingEncoder.transformed.clear()
    second = services.training_run_request(policy=spam_policy, trigger=RunTrigger.API)
    second.refresh_from_db()
    assert second.status == RunStatus.SUCCEEDED, second.log
    services.pool_rescore_and_rerank(policy_id=spam_policy.pk)
    # Training, the rescore and the re-rank ran again: only OCR text reached the text encoder.
    assert CountingEncoder.transformed
    assert set(CountingEncoder.transformed) <= {SPAM_OCR, HAM_OCR}

    _, encoder, head = services.champion_model(policy=spam_policy)
    assert isinstance(encoder, MultimodalLoopEncoder)
    pairs = [(item.pk, item.text) for item in pool]
    stored = head.predict_proba(feature_matrix(encoder=encoder, items=pairs))
    uncached = encoder.encode_analyses(item_analyses(encoder=encoder, items=pairs))
    np.testing.assert_array_equal(stored, head.predict_proba(uncached))
