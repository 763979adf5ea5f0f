"""The stored PDQ hashes equal the hashes published with PDQ, on PDQ's own reference image.

ThreatExchange's PDQ tests (``pdq/python/pdqhashing/tests/pdq_test.py``) publish the hash of
``pdq/data/misc-images/b.jpg`` and of the eight dihedral variants of the same picture
(``reg-test-input/dih/bridge-*.jpg``). That picture ships on PyPI inside the ``threatexchange``
sdist; ``scripts/fetch_test_media.py`` (run by ``make test``) puts it under ``var/test-media``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from labeling.media import bits_to_hex, hamming, pdq_hex
from tests.labeling.pdq_reference import pdq_reference

pytestmark = pytest.mark.reference_media

REFERENCE_IMAGE = "pdq-bridge-1-original.jpg"
REFERENCE_MD5 = "d35c785545392755e7e4164457657269"

# Published hashes, keyed by the reference file's name, with the lossless transform of the
# original that file is (PIL's ROTATE_90 turns counter-clockwise).
PUBLISHED = {
    "bridge-1-original": (None, "d8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22"),
    "bridge-2-rotate-90": (
        Image.Transpose.ROTATE_90,
        "38a50efd71c83f429013d68d0ffffc52e34e0e15ada952a9d29684214aa9e5af",
    ),
    "bridge-3-rotate-180": (
        Image.Transpose.ROTATE_180,
        "2dadda64b5a142e5d362209057da895ae63b8c7fc277b4b766b319361f893188",
    ),
    "bridge-4-rotate-270": (
        Image.Transpose.ROTATE_270,
        "a5f0a457248995e8c9065c275aaa54d8b61ba4bdf8fcfc0387c32f8b0bfc4f05",
    ),
    "bridge-5-flipx": (
        Image.Transpose.FLIP_TOP_BOTTOM,
        "d8f80f31e0f417b00e37f5dd028f980fb36ed12a9662c1e233e64c634e9c64dd",
    ),
    "bridge-6-flipy": (
        Image.Transpose.FLIP_LEFT_RIGHT,
        "0dad259bb1a1bd18d362576556da32a1e63b7380c2374b4866b3c6c91b89ce77",
    ),
    "bridge-7-flip-plus-1": (
        Image.Transpose.TRANSPOSE,
        "f0a5e10271dcc0bd9c5309720fff018de34ef1e8ada9a956d2967ade1ea91a50",
    ),
    "bridge-8-flip-minus-1": (
        Image.Transpose.TRANSVERSE,
        "69f05aa8a4996a17c146a2da5aaaab07b61b5b60f8fc07fc83c3d0740bfcb0fa",
    ),
}
# PDQ's recommended match threshold (ThreatExchange pdq/README): distances up to 31 bits match.
PDQ_MATCH_THRESHOLD = 31


@pytest.fixture(scope="module")
def reference_image() -> Image.Image:
    default = Path(__file__).resolve().parents[2] / "var" / "test-media"
    folder = Path(os.environ.get("REVIEWTOOL_TEST_MEDIA") or default)
    path = folder / REFERENCE_IMAGE
    if not path.is_file():
        pytest.skip(
            f"PDQ's reference image {path} is missing: run `python scripts/fetch_test_media.py`"
            " (make test does; it downloads the threatexchange sdist from PyPI)"
        )
    data = path.read_bytes()
    assert hashlib.md5(data, usedforsecurity=False).hexdigest() == REFERENCE_MD5
    image = Image.open(path)
    image.load()
    return image.convert("RGB")


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_stored_hash_is_the_published_hash(reference_image, name):
    transform, published = PUBLISHED[name]
    image = reference_image if transform is None else reference_image.transpose(transform)

    stored, quality = pdq_hex(image)

    assert stored == published
    assert quality == 100


def test_the_numpy_transcription_reproduces_the_published_hash(reference_image):
    # pdq_hex hashes through a 512 px thumbnail; the transcription must agree on the same pixels,
    # which pins it (and so test_pdq_reference.py's comparisons) to PDQ's published output.
    thumbnail = reference_image.copy()
    thumbnail.thumbnail((512, 512), Image.Resampling.BILINEAR)

    computed, _ = pdq_reference(np.asarray(thumbnail))

    assert computed == PUBLISHED["bridge-1-original"][1]


def test_hashing_the_full_size_image_stays_within_the_match_threshold(reference_image):
    # The published hash is of the downsized image; the full 1600 x 1004 pixels land a few bits
    # away, well inside the distance at which PDQ calls two images the same.
    bits, _ = pdqhash.compute(np.asarray(reference_image, dtype=np.uint8))

    distance = hamming(bits_to_hex(bits), PUBLISHED["bridge-1-original"][1])

    assert distance <= PDQ_MATCH_THRESHOLD
