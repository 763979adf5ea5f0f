"""The stored PDQ hashes are PDQ as published: ``labeling.media.pdq_hex`` (the ``pdqhash``
package's C++) against an independent transcription of the reference algorithm.

These pin the algorithm and the hex layout on generated images of many sizes; the hashes
published with PDQ, on PDQ's own reference image, are checked in ``test_pdq_published_hashes.py``
(which also checks this transcription against them).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from labeling.media import PDQ_MAX_SIDE, hamming, pdq_hex
from tests.labeling.pdq_reference import pdq_reference


def _busy_image(rows: int, cols: int, seed: int) -> Image.Image:
    """Upscaled colour noise with a shape and text on it: high PDQ quality."""
    rng = np.random.default_rng(seed)
    cells = (rng.random((rows // 8 + 1, cols // 8 + 1, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(cells).resize((cols, rows), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, cols // 2, rows // 2), fill=(250, 20, 20))
    draw.text((5, rows // 2), "report this post", fill=(0, 0, 0))
    return image


def _smooth_image(rows: int, cols: int, seed: int) -> Image.Image:
    """A blurred colour gradient: few strong gradients, low PDQ quality."""
    y, x = np.mgrid[0:rows, 0:cols]
    channels = np.stack([x * 255 / cols, y * 255 / rows, (x + y) * 127 / (rows + cols)], -1)
    noisy = channels + np.random.default_rng(seed).normal(0, 3, channels.shape)
    pixels = np.clip(noisy, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(4))


@pytest.mark.parametrize(
    ("rows", "cols"),
    # 64 and 97 px: box filters of width 1; 200-512 px: widths 2-4, odd and even sizes.
    [(64, 64), (97, 300), (200, 333), (480, 512), (512, 256)],
)
def test_pdq_matches_the_reference_algorithm_bit_for_bit(rows, cols):
    image = _busy_image(rows, cols, seed=rows + cols)
    expected_hash, expected_quality = pdq_reference(np.asarray(image.convert("RGB")))

    stored_hash, stored_quality = pdq_hex(image)

    # Equal hex strings: same bits and the same layout (bit 16 i + j at that position of the
    # 256-bit number, ThreatExchange's Hash256 printing).
    assert hamming(stored_hash, expected_hash) == 0
    assert stored_hash == expected_hash
    assert stored_quality == expected_quality == 100


@pytest.mark.parametrize(("rows", "cols"), [(300, 200), (150, 150)])
def test_pdq_quality_of_a_smooth_image_matches_the_reference(rows, cols):
    image = _smooth_image(rows, cols, seed=rows)
    expected_hash, expected_quality = pdq_reference(np.asarray(image))

    stored_hash, stored_quality = pdq_hex(image)

    assert hamming(stored_hash, expected_hash) == 0
    assert stored_quality == expected_quality
    assert expected_quality < 50  # the quality formula is exercised, not clipped at 100


def test_a_large_image_is_hashed_from_its_512_pixel_thumbnail():
    # As PDQ's Python reference does (``thumbnail((512, 512))``), so hashes of a large original
    # and of its 512-pixel copy agree.
    image = _busy_image(900, 1200, seed=3)
    thumbnail = image.copy()
    thumbnail.thumbnail((PDQ_MAX_SIDE, PDQ_MAX_SIDE), Image.Resampling.BILINEAR)

    assert pdq_hex(image)[0] == pdq_reference(np.asarray(thumbnail.convert("RGB")))[0]
