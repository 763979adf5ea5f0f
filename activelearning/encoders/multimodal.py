"""Fusion of text, image, audio and video into one vector with a modality-present mask.

An item is a ``MultimodalItem`` (text plus any number of images, audio tracks and videos).
``MultimodalEncoder`` follows the ``Encoder`` method names (``version``, ``dimension``, ``fit``,
``transform``, ``to_state``/``from_state``) over items instead of strings. With ``T`` the text
encoder's dimension, ``V = VISUAL_DIMENSION`` (11) and ``A = ACOUSTIC_DIMENSION`` (30), a row of
``transform``'s ``(n, dimension)`` float32 output is the concatenation of

=========  =============  ===========================================================
block      width          content
=========  =============  ===========================================================
text       ``T``          text encoder of the item text (exactly ``text_encoder.transform``)
image      ``T + V``      text encoder of the OCR text of all images; mean visual signals
audio      ``T + A``      text encoder of the transcripts; mean acoustic statistics
video      ``3T + 2V + A`` keyframe image blocks mean-pooled, then max-pooled; audio block
                          of the soundtrack
mask       ``4``          1.0 where text / image / audio / video is present, else 0.0
=========  =============  ===========================================================

so ``dimension = 6T + 3V + 2A + 4``. An absent modality is a zero block with a 0 in the mask,
so text-only items keep exactly the text encoder's vector in the text block. Media analysis
(OCR, ASR) is the slow part: ``analyse`` it once, then ``fit_analyses``/``encode_analyses``.
Vectors the caller already has for the pretrained part of the text encoder (e.g. stored item
text embeddings) go to ``encode_analyses`` as ``known_text_vectors``: only other texts are
encoded, with the same result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from activelearning.encoders.audio import (
    ACOUSTIC_DIMENSION,
    AudioAnalysis,
    AudioEncoder,
    AudioInput,
)
from activelearning.encoders.base import Encoder, FloatMatrix, encoder_class
from activelearning.encoders.image import (
    VISUAL_DIMENSION,
    ImageAnalysis,
    ImageEncoder,
    ImageInput,
)
from activelearning.encoders.precomputed import EncoderKey, TextVectors, with_precomputed
from activelearning.encoders.video import VideoAnalysis, VideoEncoder, VideoInput

MULTIMODAL_VERSION = "1"
MODALITIES = ("text", "image", "audio", "video")


@dataclass(frozen=True)
class MultimodalItem:
    """One item: its text and media (images: Pillow images, bytes or paths; audio and video:
    bytes or paths)."""

    text: str = ""
    images: Sequence[ImageInput] = ()
    audio: Sequence[AudioInput] = ()
    video: Sequence[VideoInput] = ()


@dataclass(frozen=True)
class ItemAnalysis:
    """An item after OCR/ASR: everything ``encode_analyses`` needs (no media bytes)."""

    text: str = ""
    images: list[ImageAnalysis] = field(default_factory=list)
    audio: list[AudioAnalysis] = field(default_factory=list)
    video: list[VideoAnalysis] = field(default_factory=list)

    def texts(self) -> list[str]:
        """Every text of the item (for fitting the text encoder)."""
        out = [self.text] if self.text else []
        out += [image.text for image in self.images if image.text]
        out += [audio.text for audio in self.audio if audio.text]
        out += [video.text for video in self.video if video.text]
        return out


class MultimodalEncoder:
    """Per-modality blocks + modality mask (see the module docstring for the layout).

    Args:
        text_encoder: encodes item text, OCR text and transcripts alike.
        image_encoder, audio_encoder, video_encoder: media analysers (defaults built lazily).
    """

    name = "multimodal"

    def __init__(
        self,
        text_encoder: Encoder,
        *,
        image_encoder: ImageEncoder | None = None,
        audio_encoder: AudioEncoder | None = None,
        video_encoder: VideoEncoder | None = None,
    ) -> None:
        self.text_encoder = text_encoder
        self._image_encoder = image_encoder
        self._audio_encoder = audio_encoder
        self._video_encoder = video_encoder

    @property
    def requires_fit(self) -> bool:
        return self.text_encoder.requires_fit

    @property
    def image_encoder(self) -> ImageEncoder:
        if self._image_encoder is None:
            self._image_encoder = ImageEncoder()
        return self._image_encoder

    @property
    def audio_encoder(self) -> AudioEncoder:
        if self._audio_encoder is None:
            self._audio_encoder = AudioEncoder()
        return self._audio_encoder

    @property
    def video_encoder(self) -> VideoEncoder:
        if self._video_encoder is None:
            self._video_encoder = VideoEncoder(
                image_encoder=self.image_encoder, audio_encoder=self.audio_encoder
            )
        return self._video_encoder

    @property
    def version(self) -> str:
        media = (
            f"{self.image_encoder.version}|{self.audio_encoder.version}|"
            f"{self.video_encoder.version}"
        )
        return f"multimodal{MULTIMODAL_VERSION}-{self.text_encoder.version}-{media}"

    @property
    def is_fitted(self) -> bool:
        return self.text_encoder.is_fitted

    @property
    def text_dimension(self) -> int:
        return self.text_encoder.dimension

    @property
    def block_slices(self) -> dict[str, slice]:
        """Column range of each block: ``text``, ``image``, ``audio``, ``video``, ``mask``."""
        t, v, a = self.text_dimension, VISUAL_DIMENSION, ACOUSTIC_DIMENSION
        widths = {
            "text": t,
            "image": t + v,
            "audio": t + a,
            "video": 3 * t + 2 * v + a,
            "mask": len(MODALITIES),
        }
        slices, start = {}, 0
        for block, width in widths.items():
            slices[block] = slice(start, start + width)
            start += width
        return slices

    @property
    def dimension(self) -> int:
        return int(self.block_slices["mask"].stop)

    def analyse(self, items: Sequence[MultimodalItem]) -> list[ItemAnalysis]:
        """OCR, ASR and keyframes of every item (the slow step)."""
        return [
            ItemAnalysis(
                text=item.text,
                images=[self.image_encoder.analyse(image) for image in item.images],
                audio=[self.audio_encoder.analyse(track) for track in item.audio],
                video=[self.video_encoder.analyse(video) for video in item.video],
            )
            for item in items
        ]

    def fit_analyses(self, analyses: Sequence[ItemAnalysis]) -> Self:
        """Fit the text encoder on every text of the analysed items."""
        texts = [text for analysis in analyses for text in analysis.texts()]
        self.text_encoder.fit(texts or [""])
        return self

    def fit(self, items: Sequence[MultimodalItem]) -> Self:
        return self.fit_analyses(self.analyse(items))

    def _encode_texts(self, texts: list[str], text_encoder: Encoder) -> FloatMatrix:
        """Text-encoder rows; an empty text is a zero row."""
        out = np.zeros((len(texts), self.text_dimension), dtype=np.float32)
        present = [index for index, text in enumerate(texts) if text]
        if present:
            out[present] = text_encoder.transform([texts[index] for index in present])
        return out

    def encode_analyses(
        self,
        analyses: Sequence[ItemAnalysis],
        *,
        known_text_vectors: Mapping[EncoderKey, TextVectors] | None = None,
    ) -> FloatMatrix:
        """Shape ``(n, dimension)``; see the module docstring for the layout.

        ``known_text_vectors``: vectors of texts under the text encoder's pretrained parts,
        keyed by ``(name, version)`` of the part (see ``precomputed.with_precomputed``); those
        texts are not encoded again.
        """
        text_encoder = self.text_encoder
        if known_text_vectors:
            text_encoder = with_precomputed(text_encoder, known_text_vectors)
        slices = self.block_slices
        t = self.text_dimension
        output = np.zeros((len(analyses), self.dimension), dtype=np.float32)
        # Text of every block is encoded in one batch per kind.
        item_text = self._encode_texts([analysis.text for analysis in analyses], text_encoder)
        image_text = self._encode_texts(
            [" ".join(i.text for i in analysis.images if i.text) for analysis in analyses],
            text_encoder,
        )
        audio_text = self._encode_texts(
            [" ".join(a.text for a in analysis.audio if a.text) for analysis in analyses],
            text_encoder,
        )
        frames = [f for analysis in analyses for video in analysis.video for f in video.frames]
        frame_text = self._encode_texts([frame.text for frame in frames], text_encoder)
        soundtracks = [
            video.audio for analysis in analyses for video in analysis.video if video.audio
        ]
        soundtrack_text = self._encode_texts([track.text for track in soundtracks], text_encoder)
        frame_cursor = soundtrack_cursor = 0
        for row, analysis in enumerate(analyses):
            mask = np.zeros(len(MODALITIES), dtype=np.float32)
            if analysis.text:
                output[row, slices["text"]] = item_text[row]
                mask[0] = 1
            if analysis.images:
                visual = np.mean([image.visual for image in analysis.images], axis=0)
                output[row, slices["image"]] = np.concatenate([image_text[row], visual])
                mask[1] = 1
            if analysis.audio:
                acoustic = np.mean([track.acoustic for track in analysis.audio], axis=0)
                output[row, slices["audio"]] = np.concatenate([audio_text[row], acoustic])
                mask[2] = 1
            if analysis.video:
                blocks, tracks = [], []
                for video in analysis.video:
                    for frame in video.frames:
                        blocks.append(np.concatenate([frame_text[frame_cursor], frame.visual]))
                        frame_cursor += 1
                    if video.audio is not None:
                        tracks.append(
                            np.concatenate(
                                [soundtrack_text[soundtrack_cursor], video.audio.acoustic]
                            )
                        )
                        soundtrack_cursor += 1
                block = np.zeros(slices["video"].stop - slices["video"].start, dtype=np.float32)
                pooled = 2 * (t + VISUAL_DIMENSION)
                if blocks:
                    stacked = np.stack(blocks)
                    block[:pooled] = np.concatenate([stacked.mean(axis=0), stacked.max(axis=0)])
                if tracks:
                    block[pooled:] = np.mean(tracks, axis=0)
                output[row, slices["video"]] = block
                mask[3] = 1
            output[row, slices["mask"]] = mask
        return output

    def transform(self, items: Sequence[MultimodalItem]) -> FloatMatrix:
        """``encode_analyses(analyse(items))``; shape ``(n, dimension)``."""
        return self.encode_analyses(self.analyse(items))

    def to_state(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """The text encoder's state plus the media engines' names (no pickle)."""
        text_metadata, arrays = self.text_encoder.to_state()
        metadata = {
            "name": self.name,
            "version": self.version,
            "text_encoder": text_metadata,
            "ocr_engine": self.image_encoder.ocr_engine_name,
            "nsfw": self.image_encoder.nsfw,
            "asr_engine": self.audio_encoder.asr_engine_name,
        }
        return metadata, arrays

    @classmethod
    def from_state(cls, metadata: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Self:
        text_metadata = metadata["text_encoder"]
        text_encoder = encoder_class(str(text_metadata["name"])).from_state(text_metadata, arrays)
        return cls(
            text_encoder,
            image_encoder=ImageEncoder(
                ocr_engine=str(metadata["ocr_engine"]), nsfw=bool(metadata["nsfw"])
            ),
            audio_encoder=AudioEncoder(asr_engine=str(metadata["asr_engine"])),
        )
