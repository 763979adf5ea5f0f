"""Multimodal test media generated from text: meme-like images, espeak-ng speech, short videos.

- ``render_meme``: the text wrapped on a solid, gradient or noisy background, in a random
  DejaVu/Liberation font (sans, serif, mono, condensed, bold/italic), size and colour, sometimes
  with an outline (meme style); 480-720 px wide.
- ``speak``: ``espeak-ng`` (Debian package) WAV at a random English voice and speed;
  ``speak_flite``: ``flite`` (Debian package), whose voices are built from recorded speech.
- ``make_video``: the image as frames (H.264, 2 fps) plus the speech as AAC, in MP4 (PyAV);
  as long as the speech.

Only printable ASCII is rendered and spoken (emoji and other scripts are dropped: the fonts lack
them and espeak-ng would read their names); ``displayable_text`` is that reference text.
"""

from __future__ import annotations

import html
import random
import re
import shutil
import subprocess
import textwrap
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
VOICES = ("en-us", "en", "en-gb-x-rp", "en-us+m3", "en-us+f2")


def font_paths() -> list[Path]:
    """Text fonts available here (DejaVu, Liberation); empty when none is installed."""
    return sorted(
        path
        for folder in FONT_DIRS
        if folder.is_dir()
        for path in folder.glob("*.ttf")
        if "Math" not in path.name and "ExtraLight" not in path.name
    )


def displayable_text(raw: str) -> str:
    """``raw`` HTML-unescaped, reduced to printable ASCII, whitespace collapsed."""
    text = html.unescape(raw)
    text = re.sub(r"[^\x20-\x7e]", " ", text)
    return " ".join(text.split())


def spoken_text(text: str) -> str:
    """The reference words of the speech: lowercase, letters, digits and apostrophes only."""
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def _contrast(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (255, 255, 255) if luminance < 128 else (0, 0, 0)


def render_meme(text: str, rng: random.Random) -> Image.Image:
    """``text`` drawn as a meme-like image (see the module docstring)."""
    fonts = font_paths()
    if not fonts:
        raise RuntimeError("no fonts: apt-get install -y fonts-dejavu-core")
    width = rng.choice((480, 560, 640, 720))
    size = rng.randint(22, 38)
    font = ImageFont.truetype(str(rng.choice(fonts)), size)
    chars_per_line = max(12, int(width / (size * 0.62)))
    lines = textwrap.wrap(text, chars_per_line) or [""]
    line_height = int(size * 1.35)
    height = max(200, line_height * len(lines) + 2 * rng.randint(30, 70))
    background = tuple(rng.randint(0, 255) for _ in range(3))
    style = rng.choice(("solid", "gradient", "noise"))
    if style == "solid":
        image = Image.new("RGB", (width, height), background)
    else:
        base = np.full((height, width, 3), background, dtype=np.float32)
        if style == "gradient":
            other = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
            ramp = np.linspace(0, 0.5, height, dtype=np.float32)[:, None, None]
            base = (base * (1 - ramp) + other * ramp).astype(np.float32)
        else:
            noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 18, base.shape)
            base = (base + noise).astype(np.float32)
        image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    fill = _contrast(background)  # type: ignore[arg-type]
    outline = rng.random() < 0.3
    draw = ImageDraw.Draw(image)
    top = (height - line_height * len(lines)) // 2
    for index, line in enumerate(lines):
        line_width = draw.textlength(line, font=font)
        left = max(8, int((width - line_width) / 2)) if rng.random() < 0.7 else 16
        position = (left, top + index * line_height)
        if outline:
            stroke = (0, 0, 0) if fill == (255, 255, 255) else (255, 255, 255)
            draw.text(position, line, font=font, fill=fill, stroke_width=2, stroke_fill=stroke)
        else:
            draw.text(position, line, font=font, fill=fill)
    return image


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


FLITE_VOICES = ("slt", "kal16", "rms", "awb")


def flite_available() -> bool:
    return shutil.which("flite") is not None


def speak_flite(text: str, rng: random.Random, path: Path) -> Path:
    """Write ``text`` spoken by flite (Debian ``flite``; voices built from recorded speech)."""
    binary = shutil.which("flite")
    if binary is None:
        raise RuntimeError("flite is not installed: apt-get install -y flite")
    subprocess.run(  # noqa: S603 - fixed binary, text passed as the -t argument
        [
            binary,
            "-voice",
            rng.choice(FLITE_VOICES),
            "--setf",
            f"duration_stretch={rng.uniform(0.9, 1.15):.2f}",
            "-t",
            text or ".",
            "-o",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def speak(text: str, rng: random.Random, path: Path) -> Path:
    """Write ``text`` spoken by espeak-ng (formant synthesis) to the WAV file ``path``."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError("espeak-ng is not installed: apt-get install -y espeak-ng")
    subprocess.run(  # noqa: S603 - fixed binary, text passed as one argument after "--"
        [
            binary,
            "-v",
            rng.choice(VOICES),
            "-s",
            str(rng.randint(140, 175)),
            "-w",
            str(path),
            "--",
            text or ".",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def make_video(image: Image.Image, audio_path: Path, path: Path, *, fps: int = 2) -> Path:
    """An MP4 of ``image`` (H.264, ``fps``) lasting as long as ``audio_path`` (AAC track)."""
    with av.open(str(audio_path)) as source:
        in_stream = source.streams.audio[0]
        frames = list(source.decode(in_stream))
        rate = in_stream.rate
    samples = sum(frame.samples for frame in frames)
    seconds = max(samples / rate, 0.5)
    even = image.resize((image.width // 2 * 2, image.height // 2 * 2))
    with av.open(str(path), mode="w") as output:
        video = output.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = even.width, even.height, "yuv420p"
        video.options = {"preset": "veryfast", "tune": "stillimage"}
        audio = output.add_stream("aac", rate=rate)
        audio.layout = "mono"
        for index in range(max(1, int(np.ceil(seconds * fps)))):
            frame = av.VideoFrame.from_image(even)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                output.mux(packet)
        for packet in video.encode(None):
            output.mux(packet)
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        for frame in frames:
            frame.pts = None
            for converted in resampler.resample(frame):
                for packet in audio.encode(converted):
                    output.mux(packet)
        for packet in audio.encode(None):
            output.mux(packet)
    return path
