"""Video analysis: keyframes through the image encoder, the audio track through the audio encoder.

Keyframes are the first frame, then a frame every ``interval_seconds``, plus any frame whose
mean absolute difference from the last keyframe (on a 32x32 greyscale thumbnail, 0-255 scale)
exceeds ``scene_threshold`` (a scene change). A periodic frame that differs from the last
keyframe by less than ``duplicate_threshold`` is not analysed again: it would add the same
vector, which changes neither the mean nor the max pooling. At most ``max_keyframes`` frames,
and only the first ``max_seconds`` of the video are read.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from activelearning.encoders.audio import AudioAnalysis, AudioEncoder, load_audio
from activelearning.encoders.image import ImageAnalysis, ImageEncoder

VIDEO_ENCODER_VERSION = "1"
VideoInput = bytes | str | Path


@dataclass(frozen=True)
class Keyframe:
    """A decoded frame chosen as a keyframe, at ``seconds`` from the start."""

    seconds: float
    image: Image.Image
    scene_change: bool


def _signature(image: Image.Image) -> npt.NDArray[np.float32]:
    return np.asarray(image.convert("L").resize((32, 32)), dtype=np.float32)


def extract_keyframes(
    source: VideoInput,
    *,
    interval_seconds: float = 3.0,
    scene_threshold: float = 30.0,
    duplicate_threshold: float = 2.0,
    max_keyframes: int = 16,
    max_seconds: float = 600.0,
) -> list[Keyframe]:
    """The keyframes of the first video stream (empty when there is none)."""
    import av

    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    keyframes: list[Keyframe] = []
    with av.open(handle) as container:
        if not container.streams.video:
            return []
        stream = container.streams.video[0]
        last_signature: npt.NDArray[np.float32] | None = None
        last_seconds = -np.inf
        for frame in container.decode(stream):
            seconds = float(frame.time) if frame.time is not None else 0.0
            if seconds > max_seconds or len(keyframes) >= max_keyframes:
                break
            periodic = seconds - last_seconds >= interval_seconds
            image = frame.to_image()
            signature = _signature(image)
            difference = (
                np.inf
                if last_signature is None
                else float(np.abs(signature - last_signature).mean())
            )
            scene_change = last_signature is not None and difference > scene_threshold
            if scene_change or (periodic and difference >= duplicate_threshold):
                keyframes.append(Keyframe(seconds, image.convert("RGB"), scene_change))
                last_signature = signature
            if periodic:
                last_seconds = seconds
    return keyframes


@dataclass(frozen=True)
class VideoAnalysis:
    """The analysed keyframes (at least one for a readable video) and the audio track."""

    frames: list[ImageAnalysis]
    audio: AudioAnalysis | None

    @property
    def text(self) -> str:
        """OCR text of the keyframes (repeated lines once) followed by the transcript."""
        seen: list[str] = []
        for frame in self.frames:
            if frame.text and frame.text not in seen:
                seen.append(frame.text)
        if self.audio is not None and self.audio.text:
            seen.append(self.audio.text)
        return " ".join(seen)


class VideoEncoder:
    """Keyframes through ``ImageEncoder``, the audio track through ``AudioEncoder``."""

    def __init__(
        self,
        *,
        image_encoder: ImageEncoder | None = None,
        audio_encoder: AudioEncoder | None = None,
        interval_seconds: float = 3.0,
        scene_threshold: float = 30.0,
        max_keyframes: int = 16,
    ) -> None:
        self.image_encoder = image_encoder or ImageEncoder()
        self.audio_encoder = audio_encoder or AudioEncoder()
        self.interval_seconds = interval_seconds
        self.scene_threshold = scene_threshold
        self.max_keyframes = max_keyframes

    @property
    def version(self) -> str:
        return (
            f"video{VIDEO_ENCODER_VERSION}-{self.image_encoder.version}-"
            f"{self.audio_encoder.version}-i{self.interval_seconds}-s{self.scene_threshold}"
        )

    def analyse(self, source: VideoInput) -> VideoAnalysis:
        keyframes = extract_keyframes(
            source,
            interval_seconds=self.interval_seconds,
            scene_threshold=self.scene_threshold,
            max_keyframes=self.max_keyframes,
        )
        frames = [self.image_encoder.analyse(keyframe.image) for keyframe in keyframes]
        waveform = load_audio(source)
        audio = self.audio_encoder.analyse_waveform(waveform) if len(waveform) else None
        return VideoAnalysis(frames=frames, audio=audio)
