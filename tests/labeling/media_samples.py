"""Media generated in the tests (Pillow, PyAV): good files of each kind and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import av
import numpy as np
from PIL import Image, ImageFilter


def pattern(seed: int = 0, size: int = 128) -> Image.Image:
    """A smooth random image (a noise field blurred): enough structure for perceptual hashes."""
    rng = np.random.default_rng(seed)
    small = (rng.random((8, 8, 3)) * 255).astype("uint8")
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)


def image_bytes(fmt: str = "PNG", image: Image.Image | None = None, **options) -> bytes:
    buffer = io.BytesIO()
    (image or pattern()).save(buffer, fmt, **options)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(side: int = 20_000) -> bytes:
    """A real, valid 1-bit PNG of side x side pixels, all black: about 50 KB on disk, 400
    megapixels decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes((side + 7) // 8)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def _write_av(
    fmt: str,
    *,
    video: str | None = None,
    audio: str | None = None,
    seconds: float = 1,
    rate: int = 8000,
    options: dict[str, str] | None = None,
) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt, options=options or {}) as container:
        if video:
            stream: Any = container.add_stream(video, rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
            base = np.asarray(pattern(size=64))
            for index in range(int(seconds * 10)):
                frame = av.VideoFrame.from_ndarray(np.roll(base, index, 0), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        if audio:
            astream: Any = container.add_stream(audio, rate=rate)
            astream.layout = "mono"
            pcm = audio.startswith("pcm")
            size = 1024
            samples = np.zeros((1, size), dtype="int16" if pcm else "float32")
            done = 0
            while done < seconds * rate:
                sound = av.AudioFrame.from_ndarray(
                    samples, format="s16" if pcm else "fltp", layout="mono"
                )
                sound.sample_rate, sound.pts = rate, done
                done += size
                for packet in astream.encode(sound):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return buffer.getvalue()


def wav_bytes(seconds: float = 1, rate: int = 8000) -> bytes:
    return _write_av("wav", audio="pcm_s16le", seconds=seconds, rate=rate)


def mp4_bytes(seconds: float = 1) -> bytes:
    return _write_av("mp4", video="libx264", seconds=seconds)


def webm_bytes(seconds: float = 1) -> bytes:
    return _write_av("webm", video="libvpx", seconds=seconds)


def long_wav_bytes() -> bytes:
    """A real two-hour WAV at 50 samples a second (about 720 KB)."""
    return wav_bytes(seconds=2 * 60 * 60, rate=50)


def blurred(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(1))


def faststart_mp4_bytes(seconds: float = 3) -> bytes:
    """An MP4 with its index (moov) before the data, so that a cut file still opens."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
            stream: Any = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
            rng = np.random.default_rng(0)
            for _ in range(int(seconds * 10)):
                pixels = (rng.random((64, 64, 3)) * 255).astype("uint8")
                for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return path.read_bytes()
