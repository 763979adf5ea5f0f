"""Row writers: CSV, JSONL, Parquet (flat memory, in batches)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from labeling.export.rows import _canonical
from labeling.export.spec import (
    _CREATED,
    _GOLDEN,
    _METADATA,
    _SPLIT,
    DECISIONS_FIELD,
    ROW_FIELDS,
    SPLIT_NAMES,
    Row,
    neutralise_formula,
)
from labeling.models import (
    ExportFormat,
)
from reviewtool.exceptions import ValidationFailed


class RowWriter(Protocol):
    def write(self, rows: Sequence[Row]) -> None: ...

    def close(self) -> list[tuple[str, str | None]]:
        """Close the files; return (file name, split or None) of each file written."""
        ...


def _fields(with_decisions: bool) -> list[str]:
    return list(ROW_FIELDS) + ([DECISIONS_FIELD] if with_decisions else [])


class CsvWriter:
    """UTF-8 with a header; metadata and decisions as JSON strings; formula cells neutralised."""

    def __init__(self, directory: Path, *, with_decisions: bool) -> None:
        self.with_decisions = with_decisions
        self.file: IO[str] = (directory / "data.csv").open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.file)
        self.writer.writerow(_fields(with_decisions))

    def write(self, rows: Sequence[Row]) -> None:
        self.writer.writerows(self._cells(row) for row in rows)

    def _cells(self, row: Row) -> list[Any]:
        cells: list[Any] = []
        for index, value in enumerate(row):
            if index == len(ROW_FIELDS):
                value = _canonical(value)
            elif index == _CREATED:
                value = value.isoformat()
            elif index == _GOLDEN:
                value = "true" if value else "false"
            elif value is None:
                value = ""
            cells.append(neutralise_formula(value) if isinstance(value, str) else value)
        return cells

    def close(self) -> list[tuple[str, str | None]]:
        self.file.close()
        return [("data.csv", None)]


class JsonlWriter:
    def __init__(self, directory: Path, *, with_decisions: bool) -> None:
        self.fields = _fields(with_decisions)
        self.file: IO[str] = (directory / "data.jsonl").open("w", encoding="utf-8", newline="\n")

    def write(self, rows: Sequence[Row]) -> None:
        for row in rows:
            record = dict(zip(self.fields, row, strict=True))
            record["label_created_at"] = row[_CREATED].isoformat()
            record["metadata"] = json.loads(row[_METADATA])
            self.file.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")

    def close(self) -> list[tuple[str, str | None]]:
        self.file.close()
        return [("data.jsonl", None)]


def _pyarrow() -> Any:
    # pyarrow comes with the `ml` extra; CSV and JSONL exports work without it.
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as error:  # pragma: no cover - the test environment has pyarrow
        raise ValidationFailed(
            "Parquet exports need pyarrow (pip install 'reviewtool[ml]')."
        ) from error
    return pyarrow


def _arrow_schema(pa: Any, *, with_decisions: bool) -> Any:
    columns = [
        ("item_id", pa.int64()),
        ("external_id", pa.string()),
        ("source", pa.string()),
        ("text", pa.string()),
        ("language", pa.string()),
        ("metadata", pa.string()),
        ("policy", pa.string()),
        ("policy_version", pa.int32()),
        ("label", pa.string()),
        ("label_source", pa.string()),
        ("agreement", pa.float64()),
        ("confidence", pa.float64()),
        ("label_created_at", pa.timestamp("us", tz="UTC")),
        ("split", pa.string()),
        ("golden", pa.bool_()),
    ]
    if with_decisions:
        decision = pa.struct(
            [
                ("reviewer", pa.string()),
                ("value", pa.string()),
                ("kind", pa.string()),
                ("review_round", pa.int32()),
                ("created_at", pa.string()),
            ]
        )
        columns.append((DECISIONS_FIELD, pa.list_(decision)))
    return pa.schema(columns)


class ParquetWriter:
    """Parquet through ``pyarrow.parquet.ParquetWriter``, one row group per batch; with
    ``by_split`` one file per split (``train.parquet`` ...), as Hugging Face datasets expect."""

    def __init__(self, directory: Path, *, with_decisions: bool, by_split: bool) -> None:
        self.pa = _pyarrow()
        self.directory = directory
        self.by_split = by_split
        self.schema = _arrow_schema(self.pa, with_decisions=with_decisions)
        self.writers: dict[str, Any] = {}

    def write(self, rows: Sequence[Row]) -> None:
        if not self.by_split:
            self._write("data", rows)
            return
        grouped: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            grouped[row[_SPLIT]].append(row)
        for split in SPLIT_NAMES:
            if grouped.get(split):
                self._write(split, grouped[split])

    def _write(self, name: str, rows: Sequence[Row]) -> None:
        columns: list[Any] = [list(column) for column in zip(*rows, strict=True)]
        arrays = [
            self.pa.array(column, type=self.schema.field(index).type)
            for index, column in enumerate(columns)
        ]
        batch = self.pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        if name not in self.writers:
            self.writers[name] = self.pa.parquet.ParquetWriter(
                str(self.directory / f"{name}.parquet"), self.schema, compression="zstd"
            )
        self.writers[name].write_batch(batch)

    def close(self) -> list[tuple[str, str | None]]:
        for writer in self.writers.values():
            writer.close()
        return [
            (f"{name}.parquet", name if self.by_split else None)
            for name in (SPLIT_NAMES if self.by_split else ("data",))
            if name in self.writers
        ]


def _writer(export_format: str, directory: Path, *, with_decisions: bool) -> RowWriter:
    if export_format == ExportFormat.CSV:
        return CsvWriter(directory, with_decisions=with_decisions)
    if export_format == ExportFormat.JSONL:
        return JsonlWriter(directory, with_decisions=with_decisions)
    return ParquetWriter(
        directory, with_decisions=with_decisions, by_split=export_format == ExportFormat.HF
    )
