"""Audio analysis: a speech transcript plus a fixed-length vector of acoustic statistics.

An audio track becomes ``AudioAnalysis(text, acoustic)``: ``text`` is the ASR transcript (it goes
through the same text encoder as item text, see ``multimodal.py``), ``acoustic`` is a float32
vector of length ``ACOUSTIC_DIMENSION``:

- ``[0:3]``   RMS loudness in dBFS / 100: mean and standard deviation over 25 ms frames, and
              the share of frames above -40 dBFS (speech/activity share);
- ``[3]``     log2(1 + duration in seconds) / 8;
- ``[4:17]``  MFCC 0-12 means / 100, ``[17:30]`` MFCC 0-12 standard deviations / 100
              (numpy implementation: 25 ms Hamming frames every 10 ms, 26 mel filters, DCT-II).

ASR engines are pluggable (``AsrEngine``: ``transcribe(waveform, sample_rate) -> str``) and
chosen by name with ``get_asr_engine``; the built-in ``"pocketsphinx"`` (and
``"pocketsphinx-fast"``, narrower beams) uses the US-English
acoustic model, dictionary and language model inside the ``pocketsphinx`` wheel (nothing is
downloaded). A deployment with better ASR weights registers another engine in ``ASR_ENGINES``.
``domain_language_model`` writes a bigram model of a domain's texts; an ``AudioEncoder`` given
one as ``language_model`` decodes with it (``get_domain_asr_engine``) instead of the general one.
Audio is decoded with PyAV to mono 16 kHz float32 in ``[-1, 1]``.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from activelearning.encoders.base import EncoderUnavailable

AUDIO_ENCODER_VERSION = "1"
SAMPLE_RATE = 16_000
N_MFCC = 13
ACOUSTIC_DIMENSION = 4 + 2 * N_MFCC
MAX_AUDIO_SECONDS = 600.0
"""Audio past this is ignored (bounds ASR time on hostile input)."""
ACTIVE_DBFS = -40.0

Waveform = npt.NDArray[np.float32]
AudioInput = bytes | str | Path


def load_audio(source: AudioInput, *, max_seconds: float = MAX_AUDIO_SECONDS) -> Waveform:
    """Decode the first audio stream of a file (path or bytes) to mono 16 kHz float32.

    Returns shape ``(samples,)``; an empty array when the container has no audio stream.
    """
    import av

    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    chunks: list[npt.NDArray[Any]] = []
    limit = int(max_seconds * SAMPLE_RATE)
    total = 0
    with av.open(handle) as container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1)
                chunks.append(chunk)
                total += len(chunk)
            if total >= limit:
                break
        else:
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    samples = np.concatenate(chunks)[:limit]
    return (samples.astype(np.float32) / 32768.0).astype(np.float32)


class AsrEngine(Protocol):
    """Speech to text."""

    name: str

    def transcribe(self, waveform: Waveform, sample_rate: int) -> str:
        """The words spoken in mono ``waveform`` (float32 in [-1, 1]) at ``sample_rate``."""


def _resample(waveform: Waveform, sample_rate: int, target: int) -> Waveform:
    if sample_rate == target or len(waveform) == 0:
        return waveform
    n_out = round(len(waveform) * target / sample_rate)
    positions = np.linspace(0, len(waveform) - 1, n_out)
    return np.interp(positions, np.arange(len(waveform)), waveform).astype(np.float32)


class PocketsphinxAsr:
    """CMU PocketSphinx 5 with its bundled US-English models.

    Args:
        lm_path: an ARPA/binary language model replacing the general English one (e.g. one
            built from a policy's labelled texts); ``None`` keeps the bundled model.
        dict_path: a pronunciation dictionary to go with it; ``None`` keeps the bundled one.
    """

    name = "pocketsphinx"
    search_options: dict[str, Any] = {}

    def __init__(self, *, lm_path: str | None = None, dict_path: str | None = None) -> None:
        if importlib.util.find_spec("pocketsphinx") is None:
            raise EncoderUnavailable("the pocketsphinx ASR needs the pocketsphinx package")
        from pocketsphinx import Decoder

        options: dict[str, Any] = {
            "samprate": SAMPLE_RATE,
            "loglevel": "FATAL",
            **self.search_options,
        }
        if lm_path:
            options["lm"] = lm_path
        if dict_path:
            options["dict"] = dict_path
        self._decoder: Any = Decoder(**options)

    def transcribe(self, waveform: Waveform, sample_rate: int) -> str:
        audio = _resample(np.asarray(waveform, dtype=np.float32), sample_rate, SAMPLE_RATE)
        if len(audio) == 0:
            return ""
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        return " ".join(hypothesis.hypstr.split()) if hypothesis is not None else ""


class FastPocketsphinxAsr(PocketsphinxAsr):
    """PocketSphinx with narrower beams: about 3x faster, at a higher word error rate."""

    name = "pocketsphinx-fast"
    search_options = {
        "maxhmmpf": 3000,
        "maxwpf": 5,
        "topn": 2,
        "beam": 1e-40,
        "wbeam": 1e-24,
        "pbeam": 1e-40,
    }


ASR_ENGINES: dict[str, Callable[[], AsrEngine]] = {
    "pocketsphinx": PocketsphinxAsr,
    "pocketsphinx-fast": FastPocketsphinxAsr,
}


def available_asr_engines() -> list[str]:
    """Names of the ASR engines whose packages are installed."""
    return list(ASR_ENGINES) if importlib.util.find_spec("pocketsphinx") else []


@functools.cache
def get_asr_engine(name: str) -> AsrEngine:
    """The (shared, lazily built) ASR engine registered as ``name``."""
    try:
        factory = ASR_ENGINES[name]
    except KeyError:
        raise KeyError(f"unknown ASR engine {name!r}; known: {sorted(ASR_ENGINES)}") from None
    return factory()


@dataclass(frozen=True)
class DomainLanguageModel:
    """A language model and its dictionary for PocketSphinx (see ``domain_language_model``).

    ``name`` identifies the build; it is stored next to a transcript as its provenance.
    """

    name: str
    lm_path: Path
    dict_path: Path


@functools.lru_cache(maxsize=4)
def get_domain_asr_engine(name: str, language_model: DomainLanguageModel) -> AsrEngine:
    """The ASR engine registered as ``name``, decoding with ``language_model``.

    Cached per (engine, model): a decoder loads its acoustic model once. Raises
    ``EncoderUnavailable`` when the engine takes no language model (only the PocketSphinx
    family does), and whatever PocketSphinx raises for unreadable model files.
    """
    try:
        factory = ASR_ENGINES[name]
    except KeyError:
        raise KeyError(f"unknown ASR engine {name!r}; known: {sorted(ASR_ENGINES)}") from None
    if not (isinstance(factory, type) and issubclass(factory, PocketsphinxAsr)):
        raise EncoderUnavailable(f"the ASR engine {name!r} takes no language model")
    return factory(lm_path=str(language_model.lm_path), dict_path=str(language_model.dict_path))


def _bundled_model_dir() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


def domain_language_model(
    texts: Sequence[str], directory: Path, *, discount: float = 0.5
) -> tuple[Path, Path]:
    """Write a bigram ARPA language model of ``texts`` and its pronunciation dictionary.

    A lever for PocketSphinx: a policy's labelled texts make the recogniser expect the words
    and phrases of that domain. Only words with a pronunciation in the bundled dictionary are
    kept (PocketSphinx has no letter-to-sound rules here); the others are dropped from the
    sentences. Bigrams use absolute discounting with back-off to add-one unigrams.
    Returns ``(lm_path, dict_path)`` for ``PocketsphinxAsr(lm_path=..., dict_path=...)``.
    """
    pronunciations: dict[str, list[str]] = {}
    with (_bundled_model_dir() / "cmudict-en-us.dict").open(encoding="utf-8") as handle:
        for line in handle:
            word, _, phones = line.strip().partition(" ")
            base = word.split("(")[0]
            pronunciations.setdefault(base, []).append(f"{word} {phones}")
    sentences = []
    for text in texts:
        words = [w for w in re.findall(r"[a-z']+", text.lower()) if w in pronunciations]
        if words:
            sentences.append(["<s>", *words, "</s>"])
    unigrams: Counter[str] = Counter(w for sentence in sentences for w in sentence)
    bigrams: Counter[tuple[str, str]] = Counter(
        pair for sentence in sentences for pair in itertools.pairwise(sentence)
    )
    vocabulary = sorted(unigrams)
    total = sum(count for word, count in unigrams.items() if word != "<s>")
    p_unigram = {
        word: (unigrams[word] + 1) / (total + len(vocabulary))
        for word in vocabulary
        if word != "<s>"
    }
    followers: dict[str, list[str]] = {}
    for first, second in bigrams:
        followers.setdefault(first, []).append(second)
    lines_1, lines_2 = [], []
    for word in vocabulary:
        logp = -99.0 if word == "<s>" else math.log10(p_unigram[word])
        if word in followers:
            seen = followers[word]
            context = sum(bigrams[(word, nxt)] for nxt in seen)
            left_over = discount * len(seen) / context
            denominator = 1 - sum(p_unigram[nxt] for nxt in seen)
            alpha = math.log10(max(left_over / max(denominator, 1e-9), 1e-9))
            lines_1.append(f"{logp:.4f} {word} {alpha:.4f}")
            for nxt in seen:
                probability = (bigrams[(word, nxt)] - discount) / context
                lines_2.append(f"{math.log10(probability):.4f} {word} {nxt}")
        else:
            lines_1.append(f"{logp:.4f} {word}")
    directory.mkdir(parents=True, exist_ok=True)
    lm_path, dict_path = directory / "domain.lm", directory / "domain.dict"
    lm_path.write_text(
        "\\data\\\n"
        f"ngram 1={len(lines_1)}\nngram 2={len(lines_2)}\n\n"
        "\\1-grams:\n" + "\n".join(lines_1) + "\n\n"
        "\\2-grams:\n" + "\n".join(lines_2) + "\n\n\\end\\\n",
        encoding="utf-8",
    )
    entries = [
        entry for word in vocabulary if word in pronunciations for entry in pronunciations[word]
    ]
    dict_path.write_text("\n".join(entries) + "\n", encoding="utf-8")
    return lm_path, dict_path


@functools.cache
def _mel_filterbank(n_filters: int, n_fft: int, sample_rate: int) -> npt.NDArray[np.float64]:
    def to_mel(hz: float) -> float:
        return 2595 * math.log10(1 + hz / 700)

    mels = np.linspace(to_mel(0), to_mel(sample_rate / 2), n_filters + 2)
    hz = 700 * (10 ** (mels / 2595) - 1)
    bins = np.floor((n_fft + 1) * hz / sample_rate).astype(int)
    bank = np.zeros((n_filters, n_fft // 2 + 1))
    for index in range(1, n_filters + 1):
        left, centre, right = bins[index - 1], bins[index], bins[index + 1]
        for k in range(left, centre):
            bank[index - 1, k] = (k - left) / max(centre - left, 1)
        for k in range(centre, right):
            bank[index - 1, k] = (right - k) / max(right - centre, 1)
    return bank


def _frames(waveform: Waveform, size: int, step: int) -> npt.NDArray[np.float32]:
    if len(waveform) < size:
        waveform = np.pad(waveform, (0, size - len(waveform)))
    count = 1 + (len(waveform) - size) // step
    index = np.arange(size)[None, :] + step * np.arange(count)[:, None]
    result: npt.NDArray[np.float32] = waveform[index]
    return result


def mfcc(waveform: Waveform, sample_rate: int = SAMPLE_RATE) -> npt.NDArray[np.float32]:
    """MFCCs 0-12, shape ``(frames, 13)``."""
    size, step, n_fft = int(0.025 * sample_rate), int(0.010 * sample_rate), 512
    frames = _frames(waveform, size, step) * np.hamming(size)
    power = np.abs(np.fft.rfft(frames, n=n_fft)) ** 2 / n_fft
    energies = np.log(power @ _mel_filterbank(26, n_fft, sample_rate).T + 1e-10)
    n = energies.shape[1]
    dct = np.cos(np.pi / n * (np.arange(n) + 0.5)[None, :] * np.arange(N_MFCC)[:, None])
    result: npt.NDArray[np.float32] = (energies @ dct.T).astype(np.float32)
    return result


def acoustic_statistics(waveform: Waveform, sample_rate: int = SAMPLE_RATE) -> Waveform:
    """The ``ACOUSTIC_DIMENSION`` acoustic features (see the module docstring)."""
    if len(waveform) == 0:
        return np.zeros(ACOUSTIC_DIMENSION, dtype=np.float32)
    frames = _frames(waveform, int(0.025 * sample_rate), int(0.010 * sample_rate))
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    dbfs = 20 * np.log10(np.maximum(rms, 1e-5))
    coefficients = mfcc(waveform, sample_rate)
    features = np.concatenate(
        [
            [dbfs.mean() / 100, dbfs.std() / 100, float((dbfs > ACTIVE_DBFS).mean())],
            [math.log2(1 + len(waveform) / sample_rate) / 8],
            coefficients.mean(axis=0) / 100,
            coefficients.std(axis=0) / 100,
        ]
    )
    return features.astype(np.float32)


@dataclass(frozen=True)
class AudioAnalysis:
    """What a track contributes: ``text`` and ``acoustic`` (shape ``(ACOUSTIC_DIMENSION,)``)."""

    text: str
    acoustic: npt.NDArray[np.float32]


class AudioEncoder:
    """ASR transcript + acoustic statistics of one audio track.

    Args:
        asr_engine: an ``ASR_ENGINES`` name.
        language_model: a domain language model for the engine (a PocketSphinx one);
            ``None`` keeps the engine's general model.
    """

    def __init__(
        self,
        *,
        asr_engine: str = "pocketsphinx",
        language_model: DomainLanguageModel | None = None,
    ) -> None:
        self.asr_engine_name = asr_engine
        self.language_model = language_model

    @property
    def version(self) -> str:
        version = f"audio{AUDIO_ENCODER_VERSION}-{self.asr_engine_name}"
        if self.language_model is not None:
            version += f"+{self.language_model.name}"
        return version

    def asr_engine(self) -> AsrEngine:
        """The engine this encoder transcribes with (loaded on first use, then shared)."""
        if self.language_model is None:
            return get_asr_engine(self.asr_engine_name)
        return get_domain_asr_engine(self.asr_engine_name, self.language_model)

    def analyse_waveform(self, waveform: Waveform) -> AudioAnalysis:
        """Analyse mono 16 kHz float32 samples."""
        text = self.asr_engine().transcribe(waveform, SAMPLE_RATE)
        return AudioAnalysis(text=text, acoustic=acoustic_statistics(waveform))

    def analyse(self, source: AudioInput) -> AudioAnalysis:
        """Decode ``source`` (path or bytes) and analyse it."""
        return self.analyse_waveform(load_audio(source))
