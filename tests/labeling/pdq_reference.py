"""An independent NumPy transcription of the PDQ algorithm, to check the ``pdqhash`` package.

Follows the description and the pure-Python reference implementation published with PDQ
(facebook/ThreatExchange, ``pdq/README.md`` and ``pdq/python/pdqhashing``): luminance, two
passes of horizontal + vertical box filters whose width is ``ceil(side / 128)`` (Jarosz's tent
filter), decimation to 64 x 64 by sampling at cell centres, the 16 x 16 low-frequency block of
the DCT (frequencies 1..16), one bit per coefficient above the median (Torben's median, the
128th smallest of 256), bit ``16 i + j`` at position ``16 i + j`` of the 256-bit number printed
in hex. Slow and only for tests.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float64]


def _window(side: int) -> int:
    return (side + 127) // 128


def _box(values: FloatMatrix, window: int, axis: int) -> FloatMatrix:
    """Mean over ``[k - (window - half), k + half - 1]`` clipped to the array (half =
    ``(window + 2) // 2``), along ``axis``: the reference's four-phase running box."""
    half = (window + 2) // 2
    before, after = window - half, half - 1
    moved = np.moveaxis(values, axis, 0)
    n = moved.shape[0]
    cumulative = np.concatenate([np.zeros((1, *moved.shape[1:])), np.cumsum(moved, axis=0)])
    low = np.clip(np.arange(n) - before, 0, n)
    high = np.clip(np.arange(n) + after + 1, 0, n)
    sums = cumulative[high] - cumulative[low]
    counts = (high - low).reshape(-1, *([1] * (moved.ndim - 1)))
    return np.moveaxis(sums / counts, 0, axis)


def pdq_reference(rgb: npt.NDArray[np.uint8]) -> tuple[str, int]:
    """PDQ hash (64 hex digits) and quality of an ``(rows, cols, 3)`` uint8 RGB array."""
    pixels = rgb.astype(np.float64)
    luma = 0.299 * pixels[..., 0] + 0.587 * pixels[..., 1] + 0.114 * pixels[..., 2]
    rows, cols = luma.shape
    for _ in range(2):
        luma = _box(luma, _window(cols), axis=1)
        luma = _box(luma, _window(rows), axis=0)
    centres_r = ((np.arange(64) + 0.5) * rows / 64).astype(int)
    centres_c = ((np.arange(64) + 0.5) * cols / 64).astype(int)
    block = luma[np.ix_(centres_r, centres_c)]

    vertical = np.trunc((block[:-1, :] - block[1:, :]) * 100 / 255)
    horizontal = np.trunc((block[:, :-1] - block[:, 1:]) * 100 / 255)
    quality = min(100, int((np.abs(vertical).sum() + np.abs(horizontal).sum()) // 90))

    frequencies = np.arange(1, 17)[:, None]
    dct = np.cos(np.pi / 128.0 * frequencies * (2 * np.arange(64)[None, :] + 1))
    coefficients = dct @ block @ dct.T
    median = np.sort(coefficients.ravel())[127]
    bits = (coefficients > median).ravel()  # index 16 i + j
    number = sum(1 << int(k) for k in np.flatnonzero(bits))
    return f"{number:064x}", quality
