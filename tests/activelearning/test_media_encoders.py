"""Multimodal encoders on generated media: OCR, ASR, keyframes, fusion layout."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activelearning.encoders.audio import (
    ACOUSTIC_DIMENSION,
    AudioEncoder,
    acoustic_statistics,
    get_asr_engine,
    load_audio,
)
from activelearning.encoders.image import VISUAL_DIMENSION, ImageEncoder, visual_signals
from activelearning.encoders.multimodal import ItemAnalysis, MultimodalEncoder, MultimodalItem
from activelearning.encoders.tfidf import TfidfEncoder
from activelearning.encoders.video import VideoEncoder, extract_keyframes
from benchmarks.multimodal.generate import make_video, render_meme, speak

IN_CI = os.environ.get("CI", "").lower() == "true"


def _require(binary: str, package: str) -> None:
    """Skip without the Debian package locally; CI installs it, so there a missing one fails."""
    if shutil.which(binary) is None:
        if IN_CI:
            pytest.fail(f"{binary} missing in CI: .ci/run must install {package}")
        pytest.skip(f"{binary} not installed (apt-get install -y {package})")


def _sine_wav(path: Path, seconds: float = 1.0, rate: int = 16_000) -> Path:
    import wave

    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def test_ocr_reads_a_rendered_word():
    _require("tesseract", "tesseract-ocr")
    image = render_meme("BANANA", random.Random(3))
    analysis = ImageEncoder(ocr_engine="tesseract", nsfw=False).analyse(image)
    assert "BANANA" in analysis.text.upper()
    assert analysis.visual.shape == (VISUAL_DIMENSION,)


def test_visual_signals_see_colour_and_size():
    red = visual_signals(Image.new("RGB", (256, 64), (200, 20, 20)), nsfw=False)
    blue = visual_signals(Image.new("RGB", (64, 64), (20, 20, 200)), nsfw=False)
    assert red.shape == (VISUAL_DIMENSION,)
    assert red[0] < blue[0]  # hue: red near 0, blue near 2/3
    assert red[7] > blue[7]  # log2(width) / 16
    assert red[3] == pytest.approx(0.0, abs=1e-6)  # a flat image has no hue spread


def test_acoustic_statistics_of_a_tone_and_of_silence(tmp_path):
    tone = load_audio(_sine_wav(tmp_path / "tone.wav"))
    assert tone.dtype == np.float32
    assert len(tone) == pytest.approx(16_000, abs=50)
    loud = acoustic_statistics(tone)
    quiet = acoustic_statistics(np.zeros(16_000, dtype=np.float32))
    assert loud.shape == quiet.shape == (ACOUSTIC_DIMENSION,)
    assert loud[0] > quiet[0]  # RMS dBFS
    assert loud[2] == pytest.approx(1.0) and quiet[2] == 0.0  # active share
    assert np.all(acoustic_statistics(np.zeros(0, dtype=np.float32)) == 0)


def test_asr_returns_a_string_for_an_espeak_utterance(tmp_path):
    _require("espeak-ng", "espeak-ng")
    wav = speak("hello world", random.Random(0), tmp_path / "hello.wav")
    analysis = AudioEncoder(asr_engine="pocketsphinx-fast").analyse(wav)
    assert isinstance(analysis.text, str)
    assert analysis.acoustic.shape == (ACOUSTIC_DIMENSION,)
    assert analysis.acoustic[2] > 0  # some frames carry speech


def test_unknown_engines_are_refused():
    with pytest.raises(KeyError, match="unknown ASR engine"):
        get_asr_engine("nope")


def test_video_keyframes_follow_scene_changes_and_pool(tmp_path):
    _require("tesseract", "tesseract-ocr")
    wav = _sine_wav(tmp_path / "tone.wav", seconds=2.0)
    still = make_video(Image.new("RGB", (96, 64), (10, 120, 10)), wav, tmp_path / "still.mp4")
    # A still video: the first frame only (later periodic frames are duplicates).
    assert len(extract_keyframes(still, interval_seconds=0.5)) == 1

    two_scenes = tmp_path / "two.mp4"
    _two_scene_video(two_scenes)
    frames = extract_keyframes(two_scenes, interval_seconds=60)
    assert len(frames) == 2 and frames[1].scene_change

    encoder = MultimodalEncoder(
        TfidfEncoder(n_components=3).fit(["green field", "black night", "green night"] * 2),
        image_encoder=ImageEncoder(ocr_engine="tesseract", nsfw=False),
        audio_encoder=AudioEncoder(asr_engine="pocketsphinx-fast"),
    )
    encoder._video_encoder = VideoEncoder(
        image_encoder=encoder.image_encoder,
        audio_encoder=encoder.audio_encoder,
        interval_seconds=60,
    )
    analysis = encoder.analyse([MultimodalItem(video=[two_scenes])])[0]
    assert len(analysis.video[0].frames) == 2
    row = encoder.encode_analyses([analysis])[0]
    video = row[encoder.block_slices["video"]]
    t, v = encoder.text_dimension, VISUAL_DIMENSION
    visuals = np.stack([frame.visual for frame in analysis.video[0].frames])
    np.testing.assert_allclose(video[t : t + v], visuals.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(video[2 * t + v : 2 * t + 2 * v], visuals.max(axis=0), rtol=1e-5)
    assert list(row[encoder.block_slices["mask"]]) == [0, 0, 0, 1]


def _two_scene_video(path: Path) -> None:
    from fractions import Fraction

    import av

    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for index in range(8):
            colour = (10, 200, 10) if index < 4 else (0, 0, 0)
            frame = av.VideoFrame.from_image(Image.new("RGB", (96, 64), colour))
            frame.pts, frame.time_base = index, Fraction(1, 4)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)


def _fitted_encoder() -> MultimodalEncoder:
    texts = ["you are awful", "have a nice day", "awful awful day", "nice people"] * 3
    return MultimodalEncoder(
        TfidfEncoder(n_components=3).fit(texts),
        image_encoder=ImageEncoder(ocr_engine="tesseract", nsfw=False),
        audio_encoder=AudioEncoder(asr_engine="pocketsphinx-fast"),
    )


def test_fusion_dimensions_and_mask():
    encoder = _fitted_encoder()
    t, v, a = 3, VISUAL_DIMENSION, ACOUSTIC_DIMENSION
    assert encoder.dimension == 6 * t + 3 * v + 2 * a + 4
    slices = encoder.block_slices
    assert [slices[b].stop - slices[b].start for b in ("text", "image", "audio", "mask")] == [
        t,
        t + v,
        t + a,
        4,
    ]
    from activelearning.encoders.audio import AudioAnalysis
    from activelearning.encoders.image import ImageAnalysis

    image = ImageAnalysis(text="awful", visual=np.ones(v, dtype=np.float32))
    audio = AudioAnalysis(text="", acoustic=np.full(a, 2.0, dtype=np.float32))
    rows = encoder.encode_analyses(
        [ItemAnalysis(text="nice"), ItemAnalysis(images=[image], audio=[audio]), ItemAnalysis()]
    )
    assert rows.shape == (3, encoder.dimension) and rows.dtype == np.float32
    assert list(rows[0, slices["mask"]]) == [1, 0, 0, 0]
    assert list(rows[1, slices["mask"]]) == [0, 1, 1, 0]
    assert not rows[2].any()
    assert not rows[0, slices["image"].start : slices["mask"].start].any()
    np.testing.assert_array_equal(rows[1, slices["image"]][t:], np.ones(v))
    np.testing.assert_array_equal(rows[1, slices["audio"]][:t], np.zeros(t))  # no transcript
    np.testing.assert_allclose(
        rows[1, slices["image"]][:t], encoder.text_encoder.transform(["awful"])[0], rtol=1e-6
    )


def test_text_only_item_keeps_the_text_encoders_vector():
    encoder = _fitted_encoder()
    rows = encoder.transform([MultimodalItem(text="you are awful"), MultimodalItem(text="nice")])
    expected = encoder.text_encoder.transform(["you are awful", "nice"])
    np.testing.assert_array_equal(rows[:, encoder.block_slices["text"]], expected)


def test_state_round_trip_keeps_the_output():
    encoder = _fitted_encoder()
    metadata, arrays = encoder.to_state()
    restored = MultimodalEncoder.from_state(metadata, arrays)
    items = [MultimodalItem(text="awful people")]
    np.testing.assert_array_equal(restored.transform(items), encoder.transform(items))
    assert restored.version == encoder.version


def test_a_domain_language_model_loads_into_pocketsphinx(tmp_path):
    from activelearning.encoders.audio import PocketsphinxAsr, domain_language_model

    lm_path, dict_path = domain_language_model(
        ["you are awful", "have a nice day", "zzqx awful people"], tmp_path
    )
    arpa = lm_path.read_text()
    assert "ngram 1=" in arpa and "\\2-grams:" in arpa
    assert "zzqx" not in arpa  # no pronunciation in the bundled dictionary: dropped
    assert "awful" in dict_path.read_text()
    engine = PocketsphinxAsr(lm_path=str(lm_path), dict_path=str(dict_path))
    tone = load_audio(_sine_wav(tmp_path / "tone.wav"))
    transcript = engine.transcribe(tone, 16_000)
    assert isinstance(transcript, str)
    assert set(transcript.split()) <= {"you", "are", "awful", "have", "a", "nice", "day", "people"}
