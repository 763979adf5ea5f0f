"""Parsers for item files: CSV, JSON Lines and two public dataset layouts (Davidson 2017, SMS spam).

Pure reading, no database: a parser turns a file into a stream of ``Record`` (one item, maybe a
label and per-class vote counts) and ``RowError`` (what is wrong, at which physical line). Files
are read line by line in binary, so memory stays flat however large the file is, a line longer
than ``MAX_LINE_BYTES`` is reported rather than loaded, and every byte read is reported to a
progress callback. The validation pass over such a stream is
``labeling.import_check.records_check``.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

# A review item is a post, a message, a comment: one megabyte is far beyond any of them, and a
# longer line is almost always a file that is not what its name says (a binary, a one-line dump).
MAX_LINE_BYTES = 1024 * 1024
MAX_EXTERNAL_ID_CHARS = 255
MAX_LABEL_CHARS = 100
# Errors kept with their message; the rest are only counted.
MAX_REPORTED_ERRORS = 20

DAVIDSON_LABELS = ("hate_speech", "offensive_language", "neither")
SMS_LABELS = ("spam", "ham")

ProgressCallback = Callable[[int], None]


class ImportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    DAVIDSON = "davidson"
    SMS = "sms"


PRESET_LABELS: Mapping[ImportFormat, tuple[str, ...]] = {
    ImportFormat.DAVIDSON: DAVIDSON_LABELS,
    ImportFormat.SMS: SMS_LABELS,
}


@dataclass(frozen=True)
class FieldMap:
    """Which columns (CSV) or keys (JSONL) hold what. Presets ignore it."""

    text_field: str = "text"
    # None: the external id is the 1-based data row number (header and blank lines not counted).
    id_field: str | None = None
    label_field: str | None = None
    metadata_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Record:
    line: int  # physical line of the file where the record starts (1-based)
    row: int  # 1-based data row number
    external_id: str
    text: str
    label: str | None = None
    # label -> number of coders who chose it (datasets that publish per-item vote counts).
    votes: Mapping[str, int] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # JSONL manifests: media files of the item, as paths relative to the manifest's folder.
    media: tuple[str, ...] = ()

    @property
    def agreement(self) -> float | None:
        total = sum(self.votes.values())
        if not total:
            return None
        return max(self.votes.values()) / total


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    # A fatal error (a broken header, an unparseable CSV quote) ends the stream after it.
    fatal: bool = False
    # The data row the error belongs to, where known (so an offset can skip it).
    row: int | None = None


Parsed = Record | RowError


class _RowProblem(Exception):
    """A reason to reject one row, raised inside a row converter."""


# --- reading lines -------------------------------------------------------------------------------


def _strict_utf8(raw: bytes) -> str:
    return raw.decode("utf-8")


class _Lines:
    """Iterates the decoded physical lines of a binary stream, line endings kept.

    Problems with a line (bad encoding, too long) are collected in ``problems`` and the line is
    replaced by something harmless, so a caller can report them and keep looking for more errors.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        decode: Callable[[bytes], str] = _strict_utf8,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._stream = stream
        self._decode = decode
        self._progress = progress
        self.line_number = 0
        self.problems: list[RowError] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self._stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise StopIteration
        self.line_number += 1
        size = len(raw)
        if size > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            size += self._skip_rest_of_line()
            self._report(size)
            self.problems.append(
                RowError(
                    self.line_number,
                    f"line is longer than the limit of {MAX_LINE_BYTES:,} bytes "
                    f"({size:,} bytes); is this the right file?",
                )
            )
            return "\n"
        self._report(size)
        try:
            text = self._decode(raw)
        except UnicodeDecodeError as error:
            self.problems.append(
                RowError(
                    self.line_number,
                    f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at byte {error.start + 1} "
                    "of the line); save the file as UTF-8",
                )
            )
            text = raw.decode("utf-8", errors="replace")
        if self.line_number == 1:
            text = text.removeprefix("\ufeff")
        return text

    def _skip_rest_of_line(self) -> int:
        skipped = 0
        while True:
            chunk = self._stream.readline(64 * 1024)
            skipped += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                return skipped

    def _report(self, size: int) -> None:
        if self._progress is not None:
            self._progress(size)

    def take_problems(self) -> list[RowError]:
        problems, self.problems = self.problems, []
        return problems


# --- formats -------------------------------------------------------------------------------------


def records_read(
    path: Path,
    *,
    fmt: ImportFormat,
    fields: FieldMap | None = None,
    offset: int = 0,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
) -> Iterator[Parsed]:
    """Stream the records of ``path`` (and errors, by physical line), skipping ``offset`` data rows.

    Errors in skipped rows are not reported, except fatal ones (the rest of the file cannot be
    read). Reading stops after ``limit`` data rows past the offset.
    """
    fields = fields or FieldMap()
    with path.open("rb") as stream:
        if fmt is ImportFormat.CSV:
            parsed = _csv_records(stream, fields=fields, progress=progress)
        elif fmt is ImportFormat.JSONL:
            parsed = _jsonl_records(stream, fields=fields, progress=progress)
        elif fmt is ImportFormat.DAVIDSON:
            parsed = _davidson_records(stream, progress=progress)
        else:
            parsed = _sms_records(stream, progress=progress)
        yield from _window(parsed, offset=offset, limit=limit)


def _window(parsed: Iterable[Parsed], *, offset: int, limit: int | None) -> Iterator[Parsed]:
    end = None if limit is None else offset + limit
    for entry in parsed:
        row = entry.row
        if row is not None and end is not None and row > end:
            return
        if row is None or row > offset or (isinstance(entry, RowError) and entry.fatal):
            yield entry
        if isinstance(entry, RowError) and entry.fatal:
            return


def _table_records(
    rows: Iterator[list[str]],
    lines: _Lines,
    *,
    required: Sequence[str],
    convert: Callable[[dict[str, str], int, int], Record],
) -> Iterator[Parsed]:
    """Shared loop of the CSV-like formats: header check, then one ``convert`` call per row."""
    header = _next_row(rows, lines, start=1)
    if isinstance(header, RowError):
        yield header
        return
    if header is None:
        yield RowError(1, "the file is empty; expected a header line", fatal=True)
        return
    problems = lines.take_problems()
    missing = [name for name in required if name not in header]
    if problems or missing:
        yield from problems
        if missing:
            yield RowError(
                1,
                f"missing column(s) {', '.join(map(repr, missing))}; "
                f"the header has {', '.join(map(repr, header))}",
                fatal=True,
            )
        return
    row_number = 0
    while True:
        start = lines.line_number + 1
        values = _next_row(rows, lines, start=start)
        if values is None:
            return
        if isinstance(values, RowError):
            yield values
            return
        if not values and not lines.problems:
            continue  # a blank line
        row_number += 1
        problems = lines.take_problems()
        if problems:
            yield from (RowError(p.line, p.message, row=row_number) for p in problems)
            continue
        if len(values) != len(header):
            yield RowError(
                start,
                f"expected {len(header)} fields as in the header, found {len(values)}",
                row=row_number,
            )
            continue
        try:
            yield convert(dict(zip(header, values, strict=True)), start, row_number)
        except _RowProblem as problem:
            yield RowError(start, str(problem), row=row_number)


def _next_row(
    rows: Iterator[list[str]], lines: _Lines, *, start: int
) -> list[str] | RowError | None:
    try:
        return next(rows)
    except StopIteration:
        return None
    except csv.Error as error:
        return RowError(
            start,
            f"cannot parse CSV in the record starting here ({error}, at line "
            f"{lines.line_number}); nothing after it was read",
            fatal=True,
        )


def _csv_records(
    stream: BinaryIO, *, fields: FieldMap, progress: ProgressCallback | None
) -> Iterator[Parsed]:
    lines = _Lines(stream, progress=progress)
    required = _required_fields(fields)

    def convert(values: dict[str, str], line: int, row: int) -> Record:
        return _generic_record(values, fields=fields, line=line, row=row)

    yield from _table_records(
        csv.reader(lines, strict=True), lines, required=required, convert=convert
    )


def _required_fields(fields: FieldMap) -> list[str]:
    names = [fields.text_field, fields.id_field, fields.label_field, *fields.metadata_fields]
    return list(dict.fromkeys(name for name in names if name))


def _generic_record(values: Mapping[str, Any], *, fields: FieldMap, line: int, row: int) -> Record:
    """A CSV row or a JSON object as a Record; raises _RowProblem with what is wrong."""
    text = values.get(fields.text_field)
    if not isinstance(text, str):
        raise _RowProblem(f"{fields.text_field!r} must be a string")
    if not text.strip():
        raise _RowProblem(f"{fields.text_field!r} is empty")
    external_id = _external_id(values, fields=fields, row=row)
    label = _label(values.get(fields.label_field)) if fields.label_field else None
    metadata = {name: values[name] for name in fields.metadata_fields}
    return Record(
        line=line, row=row, external_id=external_id, text=text, label=label, metadata=metadata
    )


def _external_id(values: Mapping[str, Any], *, fields: FieldMap, row: int) -> str:
    if fields.id_field is None:
        return str(row)
    value = values.get(fields.id_field)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _RowProblem(f"{fields.id_field!r} must be a string or an integer")
    external_id = str(value).strip()
    if not external_id:
        raise _RowProblem(f"{fields.id_field!r} is empty")
    if len(external_id) > MAX_EXTERNAL_ID_CHARS:
        raise _RowProblem(f"{fields.id_field!r} is longer than {MAX_EXTERNAL_ID_CHARS} characters")
    return external_id


def _label(value: Any) -> str | None:
    """A label cell: empty or null means "no label for this row"."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _RowProblem("the label must be a string")
    label = str(value).strip()
    if len(label) > MAX_LABEL_CHARS:
        raise _RowProblem(f"the label is longer than {MAX_LABEL_CHARS} characters")
    return label or None


def _jsonl_records(
    stream: BinaryIO, *, fields: FieldMap, progress: ProgressCallback | None
) -> Iterator[Parsed]:
    lines = _Lines(stream, progress=progress)
    required = _required_fields(fields)
    row = 0
    for text in lines:
        line = lines.line_number
        problems = lines.take_problems()
        if not problems and not text.strip():
            continue
        row += 1
        if problems:
            yield from (RowError(p.line, p.message, row=row) for p in problems)
            continue
        try:
            yield _jsonl_record(text, fields=fields, required=required, line=line, row=row)
        except _RowProblem as problem:
            yield RowError(line, str(problem), row=row)


def _jsonl_record(
    text: str, *, fields: FieldMap, required: Sequence[str], line: int, row: int
) -> Record:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise _RowProblem(f"malformed JSON: {error.msg} (column {error.colno})") from error
    if not isinstance(value, dict):
        raise _RowProblem(f"expected a JSON object, found {type(value).__name__}")
    missing = [name for name in required if name not in value and name != fields.label_field]
    if missing:
        raise _RowProblem(f"missing key(s) {', '.join(map(repr, missing))}")
    record = _generic_record(value, fields=fields, line=line, row=row)
    if "media" in value:
        return replace(record, media=_media_paths(value["media"]))
    return record


MAX_MEDIA_PER_RECORD = 20


def _media_paths(value: Any) -> tuple[str, ...]:
    """A manifest's ``media`` list: relative paths inside the manifest's folder, nothing else
    (no URL is ever fetched; absolute paths and ``..`` are refused)."""
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise _RowProblem("'media' must be a list of relative file paths")
    if len(value) > MAX_MEDIA_PER_RECORD:
        raise _RowProblem(f"'media' lists more than {MAX_MEDIA_PER_RECORD} files")
    for entry in value:
        problem = media_path_problem(entry)
        if problem:
            raise _RowProblem(f"media path {entry[:200]!r}: {problem}")
    return tuple(value)


def media_path_problem(path: str) -> str | None:
    """Why a manifest media path is refused, or None when it is a plain relative path."""
    if not path.strip():
        return "empty"
    if "://" in path or path.lower().startswith(("http:", "https:", "file:", "ftp:", "data:")):
        return "URLs are not fetched; give a path relative to the manifest"
    if "\\" in path or "\x00" in path:
        return "backslashes and NUL are not allowed"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return "absolute paths are not allowed"
    if ".." in path.split("/"):
        return "'..' is not allowed"
    return None


DAVIDSON_COLUMNS = ("count", "hate_speech", "offensive_language", "neither", "class", "tweet")


def _davidson_records(stream: BinaryIO, *, progress: ProgressCallback | None) -> Iterator[Parsed]:
    """Davidson et al. 2017 ``labeled_data.csv``: an unnamed index column (the external id),
    per-class vote counts, the majority ``class`` (0, 1, 2) and the tweet with HTML entities."""
    lines = _Lines(stream, progress=progress)
    yield from _table_records(
        csv.reader(lines, strict=True), lines, required=DAVIDSON_COLUMNS, convert=_davidson_record
    )


def _davidson_record(values: dict[str, str], line: int, row: int) -> Record:
    external_id = values.get("", "").strip()
    if not external_id:
        raise _RowProblem("the first (index) column is empty")
    votes = {label: _count(values[label], label) for label in DAVIDSON_LABELS}
    count = _count(values["count"], "count")
    if count < 1 or sum(votes.values()) != count:
        raise _RowProblem(f"the vote counts {votes} do not add up to count={count}")
    try:
        label = DAVIDSON_LABELS[int(values["class"])]
    except (ValueError, IndexError) as error:
        raise _RowProblem(f"'class' must be 0, 1 or 2, found {values['class']!r}") from error
    text = html.unescape(values["tweet"])
    if not text.strip():
        raise _RowProblem("'tweet' is empty")
    return Record(
        line=line,
        row=row,
        external_id=external_id,
        text=text,
        label=label,
        votes={name: n for name, n in votes.items() if n},
    )


def _count(value: str, column: str) -> int:
    try:
        number = int(value)
    except ValueError as error:
        raise _RowProblem(f"{column!r} must be a whole number, found {value!r}") from error
    if number < 0:
        raise _RowProblem(f"{column!r} must not be negative")
    return number


# cp1252 characters that mis-decoding turned into C1 controls (U+0080..U+009F); the five bytes
# cp1252 leaves undefined are dropped.
_C1_REPAIR: dict[int, str | None] = {}
for _code in range(0x80, 0xA0):
    try:
        _C1_REPAIR[_code] = bytes([_code]).decode("cp1252")
    except UnicodeDecodeError:
        _C1_REPAIR[_code] = None
_C1_PATTERN = re.compile("[\u0080-\u009f]")


def c1_repair(text: str) -> str:
    """Replace C1 control characters by the cp1252 characters they were mis-decoded from."""
    if _C1_PATTERN.search(text) is None:
        return text
    return text.translate(_C1_REPAIR)


def _utf8_or_cp1252(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _sms_records(stream: BinaryIO, *, progress: ProgressCallback | None) -> Iterator[Parsed]:
    """The SMS Spam Collection: ``label<TAB>text`` per line, no header; the id is the line number.

    Texts are repaired (C1 controls via cp1252, a line that is not UTF-8 read as cp1252) and HTML
    entities (``&lt;#&gt;``, ``&amp;``) are unescaped, since the corpus stores them escaped.
    """
    lines = _Lines(stream, decode=_utf8_or_cp1252, progress=progress)
    row = 0
    for raw_text in lines:
        line = lines.line_number
        problems = lines.take_problems()
        text = raw_text.rstrip("\r\n")
        if not problems and not text.strip():
            continue
        row += 1
        if problems:
            yield from (RowError(p.line, p.message, row=row) for p in problems)
            continue
        label, tab, message = text.partition("\t")
        if not tab:
            yield RowError(line, "expected 'label<TAB>text'", row=row)
        elif label not in SMS_LABELS:
            yield RowError(line, f"label must be 'ham' or 'spam', found {label!r}", row=row)
        elif not message.strip():
            yield RowError(line, "the message is empty", row=row)
        else:
            yield Record(
                line=line,
                row=row,
                external_id=str(line),
                text=html.unescape(c1_repair(message)),
                label=label,
            )
