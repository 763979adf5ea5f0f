"""Media validation and hashing, by content only: a file's name never decides what it is.

``media_inspect(path)`` reads a file that has been copied somewhere private, decides whether it
is an image (PNG, JPEG, GIF, WebP: Pillow), an audio or a video file (MP4/M4A, WebM, Ogg, MP3,
WAV: PyAV), and returns what is stored about it: kind, sniffed MIME type, size, dimensions,
duration, MD5, SHA-256 and perceptual hashes (PDQ and pHash for images, PDQ of a few keyframes
for video). Anything else raises ``MediaRejected`` with a message a person can act on.

Hostile input is assumed: markup (SVG, HTML, XML) is refused outright, and so are files with
bytes after the image's end marker (a PNG with a ZIP or HTML page appended is a polyglot that a
browser or unzip tool may read as something else), decompression bombs (the pixel count is
checked from the header before any pixel is decoded), streams that do not decode, and files
longer than the limits below. No Django import: the import command and the web upload share it.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import imagehash
import numpy as np
import pdqhash
from PIL import Image

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_AV_BYTES = 200 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
MAX_VIDEO_PIXELS = 4096 * 2304
MAX_AUDIO_SECONDS = 10 * 60
MAX_VIDEO_SECONDS = 10 * 60
# Frames decoded per stream to prove that it decodes, and keyframes hashed per video.
FRAMES_TO_DECODE = 5
KEYFRAMES_TO_HASH = 5
# PDQ works on a downsampled image anyway; hashing a smaller copy is faster and as good.
PDQ_MAX_SIDE = 512
SNIFF_BYTES = 1024

# Pillow refuses (DecompressionBombError) images over twice this and warns above it; the warning
# is turned into an error where images are opened below.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/webm": "webm",
    "audio/mp4": "m4a",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/ogg": "ogv",
}
# The demuxer each sniffed container is opened with (never left to FFmpeg's probing).
DEMUXERS = {"mp4": "mov", "webm": "matroska", "ogg": "ogg", "mp3": "mp3", "wav": "wav"}
AUDIO_CODECS = frozenset(
    {"aac", "mp3", "mp3float", "opus", "libopus", "vorbis", "flac", "alac"}
) | frozenset(
    {"pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8", "pcm_mulaw", "pcm_alaw"}
)
VIDEO_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "libdav1d", "mpeg4", "theora"})
# Markup is refused wherever it starts a file; these are also refused anywhere in its first KiB
# (browsers sniff HTML there). ``<?xml`` is only refused at the start: image metadata (XMP)
# legitimately holds it.
MARKUP_PREFIXES = (
    b"<svg",
    b"<?xml",
    b"<!doctype",
    b"<html",
    b"<script",
    b"<!--",
    b"<head",
    b"<body",
)
MARKUP_ANYWHERE = (b"<svg", b"<!doctype html", b"<html", b"<script")


class MediaRejected(Exception):
    """The file is not media we accept; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class MediaInfo:
    kind: str  # "image", "audio", "video"
    mime: str
    size_bytes: int
    sha256: str
    md5: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    pdq: str = ""
    pdq_quality: int | None = None
    keyframe_pdq: list[str] = field(default_factory=list)
    phash: str = ""

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.mime, "bin")


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) of a file, read in chunks."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def media_inspect(path: Path) -> MediaInfo:
    """Validate ``path`` by its content and compute what is stored about it."""
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected("The file is empty.")
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    _refuse_markup(head)
    container = sniff(head)
    if container is None:
        raise MediaRejected(
            "Unsupported file type: accepted are PNG, JPEG, GIF and WebP images, and MP4, M4A, "
            "WebM, Ogg, MP3 and WAV audio or video (the type is read from the content, not the "
            "file name)."
        )
    sha256, md5 = file_digests(path)
    if container in IMAGE_CONTAINERS:
        if size > MAX_IMAGE_BYTES:
            raise MediaRejected(f"The image is larger than {MAX_IMAGE_BYTES // 2**20} MB.")
        return _inspect_image(path, container, size=size, sha256=sha256, md5=md5)
    if size > MAX_AV_BYTES:
        raise MediaRejected(f"The file is larger than {MAX_AV_BYTES // 2**20} MB.")
    return _inspect_av(path, container, size=size, sha256=sha256, md5=md5)


# --- sniffing ------------------------------------------------------------------------------------

IMAGE_CONTAINERS = frozenset({"png", "jpeg", "gif", "webp"})


def _refuse_markup(head: bytes) -> None:
    stripped = head.lstrip(b"\xef\xbb\xbf\xfe\xff\x00 \t\r\n\x0b\x0c").lower()
    if stripped.startswith(b"<") or any(token in stripped for token in MARKUP_ANYWHERE):
        raise MediaRejected(
            "The file is markup (SVG, HTML or XML); markup is never accepted as media."
        )
    if head.lower().startswith((b"\xff\xfe<", b"\xfe\xff\x00<")):
        raise MediaRejected("The file is markup (UTF-16); markup is never accepted as media.")


def sniff(head: bytes) -> str | None:
    """The container a file's first bytes announce, or None for anything not accepted."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"OggS"):
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # Matroska's EBML header names its document type; only WebM is accepted.
        return "webm" if b"webm" in head[:64] else None
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


# --- images --------------------------------------------------------------------------------------


def _inspect_image(path: Path, container: str, *, size: int, sha256: str, md5: str) -> MediaInfo:
    data = path.read_bytes()
    end = IMAGE_END[container](data)
    if end != len(data):
        raise MediaRejected(
            f"The {container.upper()} image has {len(data) - end} byte(s) after its end; files "
            "with data appended (polyglots) are refused."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as probe:
                fmt = probe.format or ""
                width, height = probe.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise MediaRejected(_too_many_pixels(width, height))
                probe.verify()
            with Image.open(path) as image:
                image.load()
                pdq, quality = pdq_hex(image)
                phash = str(imagehash.phash(image.convert("RGB")))
        except MediaRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise MediaRejected(
                f"The image has more than {MAX_IMAGE_PIXELS // 1_000_000} megapixels."
            ) from None
        except Exception as error:
            raise MediaRejected(f"The image does not decode: {error}") from None
    if IMAGE_FORMATS.get(fmt) is None or fmt.lower() != container:
        raise MediaRejected(f"The image's content ({fmt or 'unknown'}) is not an accepted format.")
    return MediaInfo(
        kind="image",
        mime=IMAGE_FORMATS[fmt],
        size_bytes=size,
        sha256=sha256,
        md5=md5,
        width=width,
        height=height,
        pdq=pdq,
        pdq_quality=quality,
        phash=phash,
    )


def _too_many_pixels(width: int, height: int) -> str:
    return (
        f"The image is {width} x {height} pixels; at most {MAX_IMAGE_PIXELS // 1_000_000} "
        "megapixels are accepted."
    )


def _png_end(data: bytes) -> int:
    """Offset just past the IEND chunk."""
    offset = 8
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        offset += 12 + length
        if kind == b"IEND":
            return offset
    raise MediaRejected("The PNG image is truncated (no IEND chunk).")


def _jpeg_end(data: bytes) -> int:
    """Offset just past the EOI marker, walking segments and entropy-coded scans."""
    n = len(data)
    i = 2
    while i < n:
        if data[i] != 0xFF:
            raise MediaRejected("The JPEG image is malformed (a segment does not start with FF).")
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            break
        marker = data[i]
        i += 1
        if marker == 0xD9:
            return i
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if i + 2 > n:
            break
        length = int.from_bytes(data[i : i + 2], "big")
        i += length
        if marker == 0xDA:
            i = _scan_end(data, i)
    raise MediaRejected("The JPEG image is truncated (no end-of-image marker).")


def _scan_end(data: bytes, start: int) -> int:
    """Offset of the first marker after an entropy-coded scan (stuffing, restarts skipped)."""
    i = start
    while True:
        i = data.find(b"\xff", i)
        if i < 0 or i + 1 >= len(data):
            raise MediaRejected("The JPEG image is truncated inside its image data.")
        following = data[i + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            i += 2
        elif following == 0xFF:
            i += 1
        else:
            return i


def _gif_end(data: bytes) -> int:
    """Offset just past the GIF trailer (0x3B), walking blocks."""
    if len(data) < 13:
        raise MediaRejected("The GIF image is truncated.")
    flags = data[10]
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while i < len(data):
        block = data[i]
        if block == 0x3B:
            return i + 1
        if block == 0x21:
            i = _gif_sub_blocks(data, i + 2)
        elif block == 0x2C:
            if i + 10 > len(data):
                break
            local = data[i + 9]
            i += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0)
            i = _gif_sub_blocks(data, i + 1)  # after the LZW minimum code size
        else:
            raise MediaRejected("The GIF image is malformed (unknown block).")
    raise MediaRejected("The GIF image is truncated (no trailer).")


def _gif_sub_blocks(data: bytes, i: int) -> int:
    while i < len(data):
        size = data[i]
        i += 1 + size
        if size == 0:
            return i
    raise MediaRejected("The GIF image is truncated.")


def _webp_end(data: bytes) -> int:
    riff_size = int.from_bytes(data[4:8], "little")
    return 8 + riff_size + (riff_size & 1)


IMAGE_END = {"png": _png_end, "jpeg": _jpeg_end, "gif": _gif_end, "webp": _webp_end}


def pdq_hex(image: Image.Image) -> tuple[str, int]:
    """PDQ hash (64 hex digits, 256 bits) and quality (0-100) of an image's first frame."""
    rgb = image.convert("RGB")
    if max(rgb.size) > PDQ_MAX_SIDE:
        rgb.thumbnail((PDQ_MAX_SIDE, PDQ_MAX_SIDE), Image.Resampling.BILINEAR)
    bits, quality = pdqhash.compute(np.asarray(rgb, dtype=np.uint8))
    return bits_to_hex(bits), int(quality)


def bits_to_hex(bits: Any) -> str:
    packed = np.packbits(np.asarray(bits, dtype=np.uint8))
    return bytes(packed).hex()


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes of the same length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


# --- audio and video -----------------------------------------------------------------------------


def _inspect_av(path: Path, container: str, *, size: int, sha256: str, md5: str) -> MediaInfo:
    try:
        with av.open(
            str(path), format=DEMUXERS[container], options={"protocol_whitelist": "file"}
        ) as media:
            return _inspect_container(media, container, size=size, sha256=sha256, md5=md5)
    except MediaRejected:
        raise
    except Exception as error:
        raise MediaRejected(f"The audio/video file does not decode: {error}") from None


def _inspect_container(
    media: Any, container: str, *, size: int, sha256: str, md5: str
) -> MediaInfo:
    videos = [stream for stream in media.streams.video if not _is_cover_art(stream)]
    audios = list(media.streams.audio)
    if not videos and not audios:
        raise MediaRejected("The file holds no audio or video stream.")
    for stream in videos:
        _check_codec(stream, VIDEO_CODECS, "video")
        if stream.width * stream.height > MAX_VIDEO_PIXELS:
            raise MediaRejected(f"The video is {stream.width} x {stream.height}; too large.")
    for stream in audios:
        _check_codec(stream, AUDIO_CODECS, "audio")
    kind = "video" if videos else "audio"
    duration = _duration(media)
    limit = MAX_VIDEO_SECONDS if videos else MAX_AUDIO_SECONDS
    if duration is None:
        raise MediaRejected("The file's duration cannot be read.")
    if duration > limit:
        raise MediaRejected(
            f"The {kind} lasts {duration / 60:.1f} minutes; at most {limit // 60} minutes are "
            "accepted."
        )
    _check_complete(media, [*videos, *audios])
    for stream in [*videos, *audios]:
        _decode_some(media, stream)
    keyframes: list[tuple[str, int]] = []
    if videos:
        keyframes = _keyframe_hashes(media, videos[0])
        if not keyframes:
            raise MediaRejected("The video has no decodable keyframe.")
    mime = _av_mime(container, has_video=bool(videos))
    first = videos[0] if videos else None
    return MediaInfo(
        kind=kind,
        mime=mime,
        size_bytes=size,
        sha256=sha256,
        md5=md5,
        width=first.width if first is not None else None,
        height=first.height if first is not None else None,
        duration_seconds=round(duration, 3),
        pdq=keyframes[0][0] if keyframes else "",
        pdq_quality=keyframes[0][1] if keyframes else None,
        keyframe_pdq=[value for value, _ in keyframes],
    )


def _is_cover_art(stream: Any) -> bool:
    # MP3/M4A cover pictures are "video" streams with a single attached picture.
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _check_codec(stream: Any, allowed: frozenset[str], kind: str) -> None:
    name = stream.codec_context.name
    if name not in allowed:
        raise MediaRejected(f"The {kind} codec {name!r} is not accepted.")


def _duration(media: Any) -> float | None:
    """The longest of the container's and the streams' declared durations, in seconds."""
    candidates: list[float] = []
    if media.duration is not None:
        candidates.append(media.duration / av.time_base)
    for stream in media.streams:
        if stream.duration is not None and stream.time_base is not None:
            candidates.append(float(stream.duration * Fraction(stream.time_base)))
    return max(candidates) if candidates else None


def _check_complete(media: Any, streams: list[Any]) -> None:
    """Demux every packet (no decoding): a stream whose index promises more frames than the file
    holds was cut short (an MP4 whose index comes first still opens when its data is cut)."""
    media.seek(0)
    counts = {stream.index: 0 for stream in streams}
    for packet in media.demux(streams):
        if packet.size and packet.stream.index in counts:
            counts[packet.stream.index] += 1
    for stream in streams:
        if stream.frames and counts[stream.index] < stream.frames:
            raise MediaRejected(
                f"The {stream.type} stream is truncated: {counts[stream.index]} of "
                f"{stream.frames} frames are in the file."
            )


def _decode_some(media: Any, stream: Any) -> None:
    media.seek(0)
    decoded = 0
    for frame in _frames(media, stream):
        del frame
        decoded += 1
        if decoded >= FRAMES_TO_DECODE:
            return
    if decoded == 0:
        raise MediaRejected(f"The {stream.type} stream does not decode (no frame).")


def _frames(media: Any, stream: Any) -> Iterator[Any]:
    for packet in media.demux(stream):
        yield from packet.decode()


def _keyframe_hashes(media: Any, stream: Any) -> list[tuple[str, int]]:
    media.seek(0)
    stream.codec_context.skip_frame = "NONKEY"
    hashes: list[tuple[str, int]] = []
    try:
        for frame in _frames(media, stream):
            hashes.append(pdq_hex(frame.to_image()))
            if len(hashes) >= KEYFRAMES_TO_HASH:
                break
    finally:
        stream.codec_context.skip_frame = "DEFAULT"
    return hashes


def _av_mime(container: str, *, has_video: bool) -> str:
    if container == "mp4":
        return "video/mp4" if has_video else "audio/mp4"
    if container == "webm":
        return "video/webm" if has_video else "audio/webm"
    if container == "ogg":
        return "video/ogg" if has_video else "audio/ogg"
    if has_video:
        raise MediaRejected("Video is only accepted in MP4, WebM or Ogg.")
    return {"mp3": "audio/mpeg", "wav": "audio/wav"}[container]
