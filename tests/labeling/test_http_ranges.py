"""The Range header parser of the media view (RFC 9110 section 14, single ranges only)."""

from __future__ import annotations

import io

import pytest

from labeling.http_ranges import ByteRange, FileSlice, Unsatisfiable, parse_range

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-499", 0, 499),
        ("bytes=500-999", 500, 999),
        ("bytes=500-", 500, 999),
        ("bytes=-200", 800, 999),
        ("bytes=0-0", 0, 0),
        ("bytes=999-999", 999, 999),
        ("bytes=900-5000", 900, 999),
        ("bytes=-5000", 0, 999),
        ("Bytes=10-19", 10, 19),
        ("bytes= 10-19 ", 10, 19),
        ("bytes=10-19,", 10, 19),
    ],
)
def test_a_single_range_is_clamped_to_the_file(header, first, last):
    assert parse_range(header, SIZE) == ByteRange(first=first, last=last)


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=1000-1001", "bytes=5000-9000", "bytes=-0"]
)
def test_a_range_that_selects_nothing_is_unsatisfiable(header):
    assert parse_range(header, SIZE) == Unsatisfiable()


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=abc",
        "bytes=5-1",
        "bytes=+1-2",
        "bytes=1 -2",
        "bytes=0x10-20",
        "bytes=\u0661-\u0662",
        "bytes=0-1,5-6",
        "bytes=0-1, 1000-",
        "items=0-1",
        "0-1",
        f"bytes={'9' * 21}-",
    ],
)
def test_a_malformed_or_multi_range_header_is_ignored(header):
    assert parse_range(header, SIZE) is None


def test_an_empty_file_ignores_ranges():
    assert parse_range("bytes=0-1", 0) is None
    assert parse_range("bytes=-1", 0) is None


def test_the_content_range_values():
    assert ByteRange(first=2, last=5).content_range(10) == "bytes 2-5/10"
    assert ByteRange(first=2, last=5).length == 4
    assert Unsatisfiable().content_range(10) == "bytes */10"


def test_a_file_slice_reads_exactly_its_bytes_in_chunks():
    data = bytes(range(256)) * 4
    part = FileSlice(io.BytesIO(data), offset=100, length=300)
    chunks = list(iter(lambda: part.read(128), b""))
    assert [len(chunk) for chunk in chunks] == [128, 128, 44]
    assert b"".join(chunks) == data[100:400]
    assert part.read() == b""
    assert not hasattr(part, "fileno")
