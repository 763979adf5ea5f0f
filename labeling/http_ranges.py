"""Byte-range requests (RFC 9110, section 14) for the media serving view: the parser only.

A pure function over the ``Range`` header value and the representation's size. Only a single
range is served: RFC 9110 section 14.2 lets a server ignore the ``Range`` header, so a malformed
header, another range unit or a multi-range request gets the whole file with 200 rather than an
error, and nothing here ever has to build ``multipart/byteranges``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO

# ASCII digits only: ``int()`` would also take "+5", " 5", "5_0" and other scripts' digits.
# Twenty digits bound the integers to parse and still cover any file size.
_RANGE_SPEC = re.compile(r"([0-9]{0,20})-([0-9]{0,20})")
_UNIT = "bytes"


@dataclass(frozen=True)
class ByteRange:
    """A satisfiable range, both ends inclusive, clamped to the representation."""

    first: int
    last: int

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.first}-{self.last}/{size}"


@dataclass(frozen=True)
class Unsatisfiable:
    """A well-formed range that selects nothing of the representation: answer 416."""

    def content_range(self, size: int) -> str:
        return f"bytes */{size}"


def parse_range(header: str | None, size: int) -> ByteRange | Unsatisfiable | None:
    """What a ``Range`` header asks of a representation of ``size`` bytes.

    ``None`` means "ignore the header and send everything" (no header, a malformed one, a unit
    other than bytes, several ranges, or an empty representation, whose only satisfiable range
    would be an empty one). ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` give a ``ByteRange``
    clamped to the file, or ``Unsatisfiable`` when the range starts past the end or asks for a
    zero-length suffix.
    """
    if not header or size <= 0:
        return None
    unit, separator, range_set = header.partition("=")
    if not separator or unit.strip().lower() != _UNIT:
        return None
    # The list rule (RFC 9110 section 5.6.1) allows empty elements and whitespace around commas.
    specs = [spec.strip() for spec in range_set.split(",") if spec.strip()]
    if len(specs) != 1:
        return None
    match = _RANGE_SPEC.fullmatch(specs[0])
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text:
        return _suffix_range(last_text, size)
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # invalid, so ignored (RFC 9110 section 14.1.1)
    if first >= size:
        return Unsatisfiable()
    last = min(int(last_text), size - 1) if last_text else size - 1
    return ByteRange(first=first, last=last)


def _suffix_range(length_text: str, size: int) -> ByteRange | Unsatisfiable | None:
    if not length_text:
        return None  # "bytes=-" is not a range
    suffix_length = int(length_text)
    if suffix_length == 0:
        return Unsatisfiable()
    return ByteRange(first=max(size - suffix_length, 0), last=size - 1)


class FileSlice:
    """``length`` bytes of an open binary file from ``offset``, read in chunks on demand.

    It offers only ``read`` and ``close``: without ``fileno`` a WSGI server's ``sendfile``
    wrapper cannot bypass it and send the rest of the file.
    """

    def __init__(self, file: BinaryIO, *, offset: int, length: int) -> None:
        self._file = file
        self._remaining = length
        file.seek(offset)

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        wanted = self._remaining if size < 0 else min(size, self._remaining)
        chunk = self._file.read(wanted)
        self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self._file.close()
