"""Per-policy domain language models: built from labelled texts, cached on disk, used by
media processing, and a quiet fallback to the general model when there is none."""

from __future__ import annotations

import io
import os
import random
import shutil

import pytest

from activelearning import asr_language_models
from activelearning.asr_language_models import asr_lm_root, policy_language_model
from activelearning.encoders import audio
from activelearning.media_processing import media_process
from benchmarks.multimodal.generate import speak
from labeling import services as labeling_services
from labeling.media_services import MediaUpload, media_attach
from labeling.models import LabelSource, MediaStatus
from tests.factories import PolicyFactory, make_queue
from tests.labeling import media_samples

pytestmark = pytest.mark.django_db

# Thirty-odd everyday words the bundled dictionary knows, in short sentences.
DOMAIN_SENTENCES = [
    "buy cheap watches today",
    "win a free prize now",
    "click the link to claim your money",
    "cheap pills for sale",
    "free money for you today",
    "claim your free gift card",
    "buy now and save money",
    "you have won a big prize",
    "call now for a cheap loan",
    "limited offer ends tonight",
]


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.REVIEWTOOL_MODEL_DIR = tmp_path / "models"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.REVIEWTOOL_PROCESS_MEDIA = False
    settings.REVIEWTOOL_ASR_LM_MIN_TEXTS = 10
    settings.REVIEWTOOL_ASR_ENGINE = "pocketsphinx-fast"
    audio.get_domain_asr_engine.cache_clear()
    yield
    audio.get_domain_asr_engine.cache_clear()


@pytest.fixture
def spam(db):
    return PolicyFactory(slug="spam", labels=["spam", "ham"], positive_labels=["spam"])


@pytest.fixture
def inbox(spam):
    return make_queue(slug="inbox", policies=[spam])


def _labelled(queue, policy, texts, prefix="l"):
    created = labeling_services.items_ingest(
        queue=queue,
        items=[
            labeling_services.ItemInput(external_id=f"{prefix}{index}", text=text)
            for index, text in enumerate(texts)
        ],
        source="test",
    ).created
    for item in created:
        labeling_services.label_store(
            item=item, policy=policy, value="spam", source=LabelSource.IMPORT, agreement=1.0
        )
    return created


def _audio_asset(queue, wav: bytes, external_id="voice"):
    (item,) = labeling_services.items_ingest(
        queue=queue,
        items=[labeling_services.ItemInput(external_id=external_id, text="voice note")],
        source="test",
    ).created
    (link,) = media_attach(item=item, uploads=[MediaUpload(name="a.wav", stream=io.BytesIO(wav))])
    return link.asset


def _require_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("espeak-ng missing in CI: .ci/run must install espeak-ng")
        pytest.skip("espeak-ng not installed (apt-get install -y espeak-ng)")


@pytest.fixture
def spoken_wav(tmp_path) -> bytes:
    _require_espeak()
    return speak("claim your free prize now", random.Random(0), tmp_path / "s.wav").read_bytes()


@pytest.fixture
def engines_made(monkeypatch):
    """The keyword arguments of every PocketSphinx engine made while the test runs."""
    made: list[dict[str, str | None]] = []

    class Recording(audio.FastPocketsphinxAsr):
        def __init__(self, *, lm_path: str | None = None, dict_path: str | None = None) -> None:
            made.append({"lm_path": lm_path, "dict_path": dict_path})
            super().__init__(lm_path=lm_path, dict_path=dict_path)

    monkeypatch.setitem(audio.ASR_ENGINES, "pocketsphinx-fast", Recording)
    audio.get_asr_engine.cache_clear()
    yield made
    audio.get_asr_engine.cache_clear()


def test_a_policy_with_labelled_texts_transcribes_with_its_domain_model(
    inbox, spam, spoken_wav, engines_made
):
    _labelled(inbox, spam, DOMAIN_SENTENCES * 2)
    asset = _audio_asset(inbox, spoken_wav)

    processed = media_process(asset_id=asset.pk)

    assert processed.status == MediaStatus.READY
    assert processed.asr_language_model.startswith(f"policy-{spam.pk}-")
    folder = asr_lm_root() / processed.asr_language_model
    assert engines_made == [
        {"lm_path": str(folder / "domain.lm"), "dict_path": str(folder / "domain.dict")}
    ]
    # A domain model can only produce its own words.
    assert processed.extracted_text
    vocabulary = {word for sentence in DOMAIN_SENTENCES for word in sentence.split()}
    assert set(processed.extracted_text.split()) <= vocabulary


def test_too_few_texts_keep_the_general_model_without_error(inbox, spam, spoken_wav, engines_made):
    _labelled(inbox, spam, DOMAIN_SENTENCES[:3])
    asset = _audio_asset(inbox, spoken_wav)

    processed = media_process(asset_id=asset.pk)

    assert processed.status == MediaStatus.READY
    assert processed.asr_language_model == ""
    assert engines_made == [{"lm_path": None, "dict_path": None}]
    assert not asr_lm_root().exists()


def test_unlabelled_queue_texts_top_up_few_labels(inbox, spam):
    _labelled(inbox, spam, DOMAIN_SENTENCES[:4])
    labeling_services.items_ingest(
        queue=inbox,
        items=[
            labeling_services.ItemInput(external_id=f"u{index}", text=text)
            for index, text in enumerate(DOMAIN_SENTENCES)
        ],
        source="test",
    )
    model = policy_language_model(policy=spam)
    assert model is not None
    assert "tonight" in model.dict_path.read_text()  # from an unlabelled item only


@pytest.fixture
def builds(monkeypatch):
    """How often a language model is actually written."""
    calls: list[int] = []
    real = audio.domain_language_model

    def counting(texts, directory):
        calls.append(len(texts))
        return real(texts, directory)

    monkeypatch.setattr(asr_language_models, "domain_language_model", counting)
    return calls


def test_a_build_is_cached_until_the_texts_grow_by_a_fifth(inbox, spam, builds):
    _labelled(inbox, spam, DOMAIN_SENTENCES * 2, prefix="a")  # 20 texts
    first = policy_language_model(policy=spam)
    assert policy_language_model(policy=spam) == first
    _labelled(inbox, spam, DOMAIN_SENTENCES[:3], prefix="b")  # 23: +15 %
    assert policy_language_model(policy=spam) == first
    assert builds == [20]
    _labelled(inbox, spam, DOMAIN_SENTENCES[:2], prefix="c")  # 25: +25 %
    grown = policy_language_model(policy=spam)
    assert grown is not None and grown != first and builds == [20, 25]
    _labelled(inbox, spam, DOMAIN_SENTENCES[:1], prefix="d")
    rebuilt = policy_language_model(policy=spam, rebuild=True)
    assert rebuilt not in (first, grown) and builds == [20, 25, 26]
    folders = sorted(path.name for path in asr_lm_root().iterdir())
    # The two newest builds are kept; nothing half-written is left behind.
    assert folders == sorted([grown.name, rebuilt.name])
    assert {path.name for path in (asr_lm_root() / rebuilt.name).iterdir()} == {
        "domain.lm",
        "domain.dict",
        "manifest.json",
    }


def test_a_failed_build_falls_back_and_logs(inbox, spam, monkeypatch, caplog):
    def broken(texts, directory):
        (directory / "domain.lm").write_text("half a model")
        raise OSError("disk full")

    monkeypatch.setattr(asr_language_models, "domain_language_model", broken)
    _labelled(inbox, spam, DOMAIN_SENTENCES * 2)
    assert policy_language_model(policy=spam) is None
    assert "building the ASR language model failed" in caplog.text
    assert list(asr_lm_root().iterdir()) == []  # the staging folder is gone


def test_a_failed_rebuild_keeps_the_previous_build(inbox, spam, monkeypatch):
    _labelled(inbox, spam, DOMAIN_SENTENCES * 2)
    previous = policy_language_model(policy=spam)

    def broken(texts, directory):
        raise RuntimeError("no")

    monkeypatch.setattr(asr_language_models, "domain_language_model", broken)
    assert previous is not None
    assert policy_language_model(policy=spam, rebuild=True) == previous
    _labelled(inbox, spam, DOMAIN_SENTENCES, prefix="more")
    assert policy_language_model(policy=spam) == previous


def test_texts_with_too_few_known_words_keep_the_general_model(inbox, spam, builds):
    _labelled(inbox, spam, [f"zzqx{index} blorf{index}" for index in range(12)])
    assert policy_language_model(policy=spam) is None
    assert policy_language_model(policy=spam) is None
    assert builds == [12]  # the verdict is cached with the build


def test_an_engine_without_language_models_falls_back(inbox, spam, monkeypatch, settings, caplog):
    class Plain:
        name = "plain"

        def transcribe(self, waveform, sample_rate):
            return "plain words"

    monkeypatch.setitem(audio.ASR_ENGINES, "plain", Plain)
    audio.get_asr_engine.cache_clear()
    settings.REVIEWTOOL_ASR_ENGINE = "plain"
    _labelled(inbox, spam, DOMAIN_SENTENCES * 2)
    asset = _audio_asset(inbox, media_samples.wav_bytes())
    processed = media_process(asset_id=asset.pk)
    audio.get_asr_engine.cache_clear()
    assert (processed.status, processed.extracted_text) == (MediaStatus.READY, "plain words")
    assert processed.asr_language_model == ""
    assert "using the general one" in caplog.text
