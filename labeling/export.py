"""Versioned, reproducible dataset exports of resolved labels.

One row per :class:`~labeling.models.Label` (joined to its item), streamed from the database with
``.iterator(chunk_size=CHUNK_SIZE)`` and written in batches, so memory stays flat however many
labels there are. Formats: CSV (formula cells neutralised), JSONL, one Parquet file with a
``split`` column, or Hugging Face style Parquet splits (``train.parquet`` ...). Every export writes
``datasheet.json`` and ``DATASHEET.md`` next to the data and is recorded as a
:class:`~labeling.models.DatasetExport`.

**Fingerprint.** SHA-256 over the canonical JSON of the filters, seed, split fractions and the
format-independent content of every row in export order (``policy`` slug, then item id). The same
filters over the same data give the same fingerprint in every format; a changed label changes it.
The creation time is not part of it.

**Splits.** An item's split comes from ``sha256(f"{seed}:{item_id}")`` mapped to [0, 1) and
compared with the cumulative split fractions. We chose this over exact per-stratum allocation
because it is deterministic and streaming (no per-stratum sort in memory), it keeps one item in
one split under every policy (no text leaks from train into test through a second policy), and an
item keeps its split when later labels are added. Label values do not enter the hash, so every
(policy, label) stratum is split in the given proportions *in expectation*; on a small stratum the
counts can be off by a few rows (a binomial deviation of about sqrt(n * p * (1 - p))), and the
datasheet reports the actual counts per split and label.

**Reviewers.** ``with_decisions`` adds each row's decisions with pseudonymous reviewer ids:
HMAC-SHA256 of ``user:<id>`` (or ``anonymous:<name>`` for imported coders) under a key derived
from ``SECRET_KEY`` and the export's fingerprint: stable within an export, different across
exports of different data, and not linkable to a username without the secret key. The
fingerprint itself covers the decisions through a second key derived from ``SECRET_KEY`` alone,
so it does not depend on the pseudonyms (which depend on it) and cannot be brute-forced back to
user ids. That needs the fingerprint before writing, so exports with decisions read the rows
twice (and refuse to record a snapshot if the data changed in between).

Exports run synchronously; large ones belong in ``manage.py export_dataset``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import math
import shutil
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import metadata as package_metadata
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from labeling.agreement import krippendorff_alpha, ratings_from_rows
from labeling.models import (
    DatasetExport,
    Decision,
    DecisionKind,
    ExportFormat,
    Label,
    LabelSource,
    Policy,
    Queue,
)
from labeling.roles import POLICY_OWNER_ROLES, has_any_role
from labeling.services import audit_record
from reviewtool.exceptions import Conflict, ValidationFailed

FINGERPRINT_VERSION = 1
CHUNK_SIZE = 5000
BATCH_ROWS = 20_000
SPLIT_NAMES = ("train", "validation", "test")
DEFAULT_SPLITS = (0.8, 0.1, 0.1)
# What a spreadsheet would read as the start of a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Krippendorff's alpha works on a dense (raters x items) matrix; beyond this many cells it is
# not computed rather than exhausting memory.
MAX_ALPHA_CELLS = 50_000_000

ROW_FIELDS = (
    "item_id",
    "external_id",
    "source",
    "text",
    "language",
    "metadata",
    "policy",
    "policy_version",
    "label",
    "label_source",
    "agreement",
    "confidence",
    "label_created_at",
    "split",
    "golden",
)
DECISIONS_FIELD = "decisions"
FIELD_DESCRIPTIONS = {
    "item_id": "reviewtool item id",
    "external_id": "the item's id in its source system",
    "source": "where the item came from",
    "text": "the item's text",
    "language": "language tag, if known",
    "metadata": "the item's metadata as a JSON object (a JSON string in CSV and Parquet)",
    "policy": "policy slug",
    "policy_version": "the policy version the label was decided under",
    "label": "the resolved label value",
    "label_source": "consensus, adjudication or import",
    "agreement": "share of counted decisions that agree with the label (empty if unknown)",
    "confidence": "posterior probability of the label under the queue's aggregation",
    "label_created_at": "when the label was first resolved (UTC, ISO 8601)",
    "split": "train, validation or test",
    "golden": "the item is an active golden (known-answer) item",
    DECISIONS_FIELD: "per-reviewer decisions: pseudonymous reviewer, value, kind, review round, "
    "time",
}
_QUERY_FIELDS = (
    "item_id",
    "item__external_id",
    "item__source",
    "item__text",
    "item__language",
    "metadata_text",
    "policy__slug",
    "policy_version",
    "value",
    "source",
    "agreement",
    "confidence",
    "created_text",
    "item__golden__active",
)
_POLICY = ROW_FIELDS.index("policy")
_LABEL = ROW_FIELDS.index("label")
_SPLIT = ROW_FIELDS.index("split")
_CREATED = ROW_FIELDS.index("label_created_at")
_METADATA = ROW_FIELDS.index("metadata")
_AGREEMENT = ROW_FIELDS.index("agreement")
_VERSION = ROW_FIELDS.index("policy_version")
_GOLDEN = ROW_FIELDS.index("golden")

Row = tuple[Any, ...]


def can_export(user: Any) -> bool:
    """Leads and admins export datasets (the management command is for operators)."""
    return has_any_role(user, POLICY_OWNER_ROLES)


# --- what to export --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilters:
    """Which labels to export. Dates are UTC days, both ends inclusive."""

    policies: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    min_agreement: float | None = None
    golden_only: bool = False
    queue: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The canonical form: recorded on the export and hashed into the fingerprint."""
        return {
            "policies": sorted(set(self.policies)),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "sources": sorted(set(self.sources)),
            "min_agreement": self.min_agreement,
            "golden_only": self.golden_only,
            "queue": self.queue,
        }


@dataclass(frozen=True)
class ExportSpec:
    format: str
    filters: ExportFilters = field(default_factory=ExportFilters)
    splits: tuple[float, ...] = DEFAULT_SPLITS
    seed: int = 0
    with_decisions: bool = False


def parse_list(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """``["a,b", "c"]`` or ``"a,b"`` -> ``("a", "b", "c")``: repeatable options and comma lists."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def parse_day(text: str | None, *, name: str) -> date | None:
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise ValidationFailed(
            f"{name} must be an ISO date (YYYY-MM-DD), not {text!r}.",
            {"fields": {name: "Not an ISO date."}},
        ) from error


def parse_splits(text: str | Sequence[float] | None) -> tuple[float, ...]:
    """``"0.8,0.1,0.1"`` -> (train, validation, test) fractions: one to three, summing to 1."""
    if text is None:
        return DEFAULT_SPLITS
    try:
        values = (
            tuple(float(part) for part in text.split(","))
            if isinstance(text, str)
            else tuple(float(part) for part in text)
        )
    except ValueError as error:
        raise ValidationFailed(
            f"splits must be numbers separated by commas, like 0.8,0.1,0.1, not {text!r}.",
            {"fields": {"splits": "Not a list of numbers."}},
        ) from error
    problem = _splits_problem(values)
    if problem:
        raise ValidationFailed(
            f"Bad split fractions {list(values)}: {problem}.", {"fields": {"splits": problem}}
        )
    return values


def _splits_problem(values: Sequence[float]) -> str:
    if not 1 <= len(values) <= len(SPLIT_NAMES):
        return f"give one to three fractions ({', '.join(SPLIT_NAMES)})"
    if any(not math.isfinite(value) or value < 0 or value > 1 for value in values):
        return "each fraction must be between 0 and 1"
    if abs(sum(values) - 1.0) > 1e-6:
        return f"the fractions must sum to 1 (they sum to {sum(values):g})"
    return ""


def neutralise_formula(value: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with ``'`` so it stays text."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


class SplitAssigner:
    """Maps an item id to its split: ``sha256(f"{seed}:{item_id}")`` in [0, 1) against the
    cumulative fractions (see the module docstring for why a hash and not a per-stratum sort)."""

    def __init__(self, *, seed: int, splits: Sequence[float]) -> None:
        self.seed = seed
        self.bounds: list[tuple[int, str]] = []
        cumulative = 0.0
        for name, fraction in zip(SPLIT_NAMES, splits, strict=False):
            cumulative += fraction
            if fraction > 0:
                self.bounds.append((min(int(cumulative * 2**64), 2**64), name))
        # Rounding may leave the last bound a hair under 2**64: the top belongs to the last split.
        self.bounds[-1] = (2**64, self.bounds[-1][1])

    def __call__(self, item_id: int) -> str:
        point = int.from_bytes(
            hashlib.sha256(f"{self.seed}:{item_id}".encode()).digest()[:8], "big"
        )
        for bound, name in self.bounds:
            if point < bound:
                return name
        return self.bounds[-1][1]  # pragma: no cover - the last bound is 2**64


# --- selecting the labels --------------------------------------------------------------------


def labels_matching(filters: ExportFilters) -> QuerySet[Label]:
    """The labels the filters select; unknown policies, queues or sources are a ValidationFailed."""
    queryset = Label.objects.all()
    if filters.policies:
        known = set(Policy.objects.filter(slug__in=filters.policies).values_list("slug", flat=True))
        unknown = sorted(set(filters.policies) - known)
        if unknown:
            raise ValidationFailed(
                f"Unknown policy: {', '.join(unknown)}.", {"fields": {"policies": unknown}}
            )
        queryset = queryset.filter(policy__slug__in=filters.policies)
    if filters.queue:
        if not Queue.objects.filter(slug=filters.queue).exists():
            raise ValidationFailed(
                f"Unknown queue: {filters.queue}.", {"fields": {"queue": filters.queue}}
            )
        queryset = queryset.filter(item__queue__slug=filters.queue)
    if filters.sources:
        unknown = sorted(set(filters.sources) - set(LabelSource.values))
        if unknown:
            raise ValidationFailed(
                f"Unknown label source: {', '.join(unknown)} "
                f"(one of {', '.join(LabelSource.values)}).",
                {"fields": {"sources": unknown}},
            )
        queryset = queryset.filter(source__in=filters.sources)
    if filters.since:
        queryset = queryset.filter(created_at__gte=_day_start(filters.since))
    if filters.until:
        queryset = queryset.filter(created_at__lt=_day_start(filters.until) + timedelta(days=1))
    if filters.since and filters.until and filters.since > filters.until:
        raise ValidationFailed("since is after until.", {"fields": {"since": "After until."}})
    if filters.min_agreement is not None:
        if not 0.0 <= filters.min_agreement <= 1.0:
            raise ValidationFailed(
                "min_agreement must be between 0 and 1.", {"fields": {"min_agreement": "0..1"}}
            )
        queryset = queryset.filter(agreement__gte=filters.min_agreement)
    if filters.golden_only:
        queryset = queryset.filter(item__golden__active=True)
    return queryset


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _row_batches(
    queryset: QuerySet[Label], *, assign: SplitAssigner, with_decisions: bool, batch_rows: int
) -> Iterator[list[Row]]:
    """Rows in export order, ``batch_rows`` at a time (decisions attached per batch)."""
    batch: list[Row] = []
    for values in _label_values(queryset):
        # values: ROW_FIELDS up to label_created_at (as text), then the golden flag.
        batch.append(
            (
                *values[:_CREATED],
                _timestamp(values[_CREATED]),
                assign(values[0]),
                values[-1] is True,
            )
        )
        if len(batch) >= batch_rows:
            yield _attach_decisions(batch) if with_decisions else batch
            batch = []
    if batch:
        yield _attach_decisions(batch) if with_decisions else batch


def _label_values(queryset: QuerySet[Label]) -> Iterator[tuple[Any, ...]]:
    """The label rows of the export, policy by policy (ordered by slug), each by item id.

    One query per policy ordered by item id lets the database walk the (item, policy) unique
    index instead of sorting every selected row (text included) up front: no sorter, flat memory.
    """
    policy_ids = (
        Policy.objects.filter(pk__in=queryset.order_by().values("policy_id"))
        .order_by("slug")
        .values_list("pk", flat=True)
    )
    for policy_id in list(policy_ids):
        # Metadata comes as the database's JSON text: decoding and re-encoding it would be a
        # third of the export's time. Within one database the same data gives the same text.
        yield from (
            queryset.filter(policy_id=policy_id)
            .order_by("item_id")
            .annotate(
                metadata_text=Cast("item__metadata", output_field=TextField()),
                # Django's per-row datetime converter costs more than this parse (_timestamp).
                created_text=Cast("created_at", output_field=TextField()),
            )
            .values_list(*_QUERY_FIELDS)
            .iterator(chunk_size=CHUNK_SIZE)
        )


def _timestamp(text: str) -> datetime:
    """A timestamp column cast to text: naive UTC on SQLite, with an offset on PostgreSQL
    (Django runs its connections in UTC)."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _identity(reviewer_id: int | None, anonymous: str) -> str:
    return f"user:{reviewer_id}" if reviewer_id is not None else f"anonymous:{anonymous}"


def _attach_decisions(batch: list[Row]) -> list[Row]:
    """Each row gets its item's unretracted decisions on its policy, oldest first, with the
    reviewer as an identity string (pseudonymised on the way out)."""
    item_ids = sorted({row[0] for row in batch})
    by_item: dict[int, list[tuple[str, str, dict[str, str], int, str]]] = defaultdict(list)
    for start in range(0, len(item_ids), CHUNK_SIZE):
        decisions = (
            Decision.objects.filter(
                item_id__in=item_ids[start : start + CHUNK_SIZE], retraction__isnull=True
            )
            .order_by("item_id", "id")
            .values_list(
                "item_id",
                "reviewer_id",
                "anonymous_reviewer",
                "kind",
                "verdicts",
                "review_round",
                "created_at",
            )
        )
        for item_id, reviewer_id, anonymous, kind, verdicts, review_round, created in decisions:
            by_item[item_id].append(
                (
                    _identity(reviewer_id, anonymous),
                    kind,
                    verdicts,
                    review_round,
                    created.isoformat(),
                )
            )
    return [
        (
            *row,
            [
                {
                    "reviewer": identity,
                    "value": verdicts[row[_POLICY]],
                    "kind": kind,
                    "review_round": review_round,
                    "created_at": created,
                }
                for identity, kind, verdicts, review_round, created in by_item.get(row[0], ())
                if row[_POLICY] in verdicts
            ],
        )
        for row in batch
    ]


# --- keys and the fingerprint ----------------------------------------------------------------


def _secret_key(purpose: str) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), purpose.encode(), hashlib.sha256).digest()


def reviewer_pseudonym_key(fingerprint: str) -> bytes:
    """The key of an export's pseudonymous reviewer ids: SECRET_KEY and the fingerprint."""
    return _secret_key(f"reviewtool.export.pseudonym:{fingerprint}")


class _Keyed:
    """HMAC-SHA256 of reviewer identities under one key, cached (there are few reviewers)."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.cache: dict[str, str] = {}

    def __call__(self, identity: str) -> str:
        token = self.cache.get(identity)
        if token is None:
            token = hmac.new(self.key, identity.encode(), hashlib.sha256).hexdigest()[:16]
            self.cache[identity] = token
        return token


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _canonical(value: Any) -> str:
    return _ENCODER.encode(value)


def _fingerprint_header(spec: ExportSpec) -> bytes:
    return (
        _canonical(
            {
                "version": FINGERPRINT_VERSION,
                "filters": spec.filters.as_json(),
                "seed": spec.seed,
                "splits": list(spec.splits),
                "with_decisions": spec.with_decisions,
                "fields": list(ROW_FIELDS) + ([DECISIONS_FIELD] if spec.with_decisions else []),
            }
        )
        + "\n"
    ).encode()


def _with_reviewers(row: Row, token: _Keyed) -> Row:
    return (
        *row[:-1],
        [{**decision, "reviewer": token(decision["reviewer"])} for decision in row[-1]],
    )


def _fingerprint_line(row: Row) -> bytes:
    created = row[_CREATED]
    return (
        _canonical([*row[:_CREATED], created.isoformat(), *row[_CREATED + 1 :]]) + "\n"
    ).encode()


# --- writers ---------------------------------------------------------------------------------


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


# --- the datasheet ---------------------------------------------------------------------------


@dataclass
class _Tally:
    """Running counts over the rows, all keyed by small things (splits, policies, labels)."""

    rows: int = 0
    golden: int = 0
    by_split_label: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    versions: Counter[tuple[str, int]] = field(default_factory=Counter)
    agreement_sum: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    agreement_rows: Counter[str] = field(default_factory=Counter)

    def add_batch(self, rows: Sequence[Row]) -> None:
        self.rows += len(rows)
        self.by_split_label.update((row[_SPLIT], row[_POLICY], row[_LABEL]) for row in rows)
        self.versions.update((row[_POLICY], row[_VERSION]) for row in rows)
        self.golden += sum(1 for row in rows if row[_GOLDEN])
        for row in rows:
            if row[_AGREEMENT] is not None:
                self.agreement_sum[row[_POLICY]] += row[_AGREEMENT]
                self.agreement_rows[row[_POLICY]] += 1


def _counts(tally: _Tally) -> dict[str, Any]:
    per_split: dict[str, Any] = {}
    for split in SPLIT_NAMES:
        labels: dict[str, dict[str, int]] = defaultdict(dict)
        for (row_split, policy, label), count in sorted(tally.by_split_label.items()):
            if row_split == split:
                labels[policy][label] = count
        per_split[split] = {
            "rows": sum(sum(v.values()) for v in labels.values()),
            **{"labels": dict(labels)},
        }
    return per_split


def _distribution(tally: _Tally) -> dict[str, Any]:
    totals: Counter[tuple[str, str]] = Counter()
    for (_split, policy, label), count in tally.by_split_label.items():
        totals[(policy, label)] += count
    per_policy: dict[str, Counter[str]] = defaultdict(Counter)
    for (policy, label), count in totals.items():
        per_policy[policy][label] = count
    return {
        policy: {
            label: {"count": count, "share": count / sum(labels.values())}
            for label, count in sorted(labels.items())
        }
        for policy, labels in sorted(per_policy.items())
    }


def _agreement_summary(tally: _Tally, alphas: Mapping[str, Any]) -> dict[str, Any]:
    rows = sum(tally.agreement_rows.values())
    return {
        "mean": sum(tally.agreement_sum.values()) / rows if rows else None,
        "rows_with_agreement": rows,
        "per_policy": {
            policy: {
                "mean": tally.agreement_sum[policy] / count if count else None,
                "rows_with_agreement": count,
                "krippendorff_alpha_nominal": alphas.get(policy),
            }
            for policy, count in (
                (policy, tally.agreement_rows[policy])
                for policy in sorted({policy for _, policy, _ in tally.by_split_label})
            )
        },
    }


def _policy_versions(tally: _Tally) -> dict[str, Any]:
    present: dict[str, dict[str, int]] = defaultdict(dict)
    for (policy, version), count in sorted(tally.versions.items()):
        present[policy][str(version)] = count
    current = dict(Policy.objects.filter(slug__in=present).values_list("slug", "version"))
    return {
        policy: {
            "present": versions,
            "current": current.get(policy),
            "labels_before_current": sum(
                count
                for version, count in versions.items()
                if current.get(policy) is not None and int(version) < current[policy]
            ),
        }
        for policy, versions in present.items()
    }


def _krippendorff(queryset: QuerySet[Label], policies: Iterable[str]) -> dict[str, Any]:
    """Nominal alpha per policy over the review and import decisions on the exported items.

    Streams the decisions by item and keeps only items with two or more raters (the only ones
    alpha can pair); a rater's latest unretracted decision on an item counts.
    """
    result: dict[str, Any] = {}
    for slug in sorted(policies):
        items = queryset.filter(policy__slug=slug).order_by().values("item_id")
        decisions = (
            Decision.objects.filter(
                item_id__in=items,
                kind__in=(DecisionKind.REVIEW, DecisionKind.IMPORT),
                retraction__isnull=True,
            )
            .order_by("item_id", "id")
            .values_list("item_id", "reviewer_id", "anonymous_reviewer", "verdicts")
            .iterator(chunk_size=CHUNK_SIZE)
        )
        triples: list[tuple[int | None, str, str]] = []
        current: int | None = None
        unit: dict[str, str] = {}
        for item_id, reviewer_id, anonymous, verdicts in decisions:
            if item_id != current:
                if len(unit) >= 2:
                    triples.extend((current, rater, value) for rater, value in unit.items())
                current, unit = item_id, {}
            if isinstance(verdicts, dict) and slug in verdicts:
                unit[_identity(reviewer_id, anonymous)] = str(verdicts[slug])
        if len(unit) >= 2:
            triples.extend((current, rater, value) for rater, value in unit.items())
        result[slug] = _alpha(triples)
    return result


def _alpha(triples: list[tuple[Any, str, str]]) -> dict[str, Any]:
    if not triples:
        return {
            "value": None,
            "defined": False,
            "n_items": 0,
            "n_raters": 0,
            "reason": "not defined: no exported item has decisions from two or more raters",
        }
    table = ratings_from_rows(triples)
    if table.n_raters * table.n_items > MAX_ALPHA_CELLS:
        return {
            "value": None,
            "defined": False,
            "n_items": table.n_items,
            "n_raters": table.n_raters,
            "reason": "not computed: too many raters x items for the dense reliability matrix",
        }
    agreement = krippendorff_alpha(table.reliability_data(), level="nominal")
    return {
        "value": agreement.value,
        "defined": agreement.defined,
        "n_items": agreement.n_items,
        "n_raters": agreement.n_raters,
        "reason": agreement.reason,
    }


def _tool() -> dict[str, Any]:
    try:
        version = package_metadata.version("reviewtool")
    except package_metadata.PackageNotFoundError:  # pragma: no cover - installed in the venv
        version = "unknown"
    return {"name": "reviewtool", "version": version, "fingerprint_version": FINGERPRINT_VERSION}


def _file_entry(path: Path, split: str | None) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {
        "name": path.name,
        "split": split,
        "bytes": path.stat().st_size,
        "sha256": digest.hexdigest(),
    }


def datasheet_markdown(sheet: Mapping[str, Any]) -> str:
    """The datasheet for people: the same facts as ``datasheet.json``."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "# Datasheet",
        "",
        f"- Fingerprint: `{sheet['fingerprint']}`",
        f"- Created: {sheet['created_at']} by {cell(sheet['tool']['name'])} "
        f"{cell(sheet['tool']['version'])}",
        f"- Format: {sheet['format']}; rows: {sheet['row_count']}; items: {sheet['item_count']}; "
        f"golden rows: {sheet['golden_rows']}",
        f"- Splits: {cell(sheet['splits'])}, seed {sheet['seed']} ({sheet['split_method']})",
        f"- Filters: `{cell(_canonical(sheet['filters']))}`",
        f"- Reviewer ids: {sheet['reviewer_ids']}",
        "",
        "## Rows per split and label",
        "",
        "| split | policy | label | rows |",
        "| --- | --- | --- | ---: |",
    ]
    for split, counts in sheet["counts"].items():
        for policy, labels in counts["labels"].items():
            lines.extend(
                f"| {split} | {cell(policy)} | {cell(label)} | {count} |"
                for label, count in labels.items()
            )
    lines += ["", "## Agreement", "", f"Mean agreement: {sheet['agreement']['mean']}", ""]
    lines += [
        "| policy | mean agreement | Krippendorff's alpha (nominal) |",
        "| --- | ---: | --- |",
    ]
    for policy, summary in sheet["agreement"]["per_policy"].items():
        alpha = summary["krippendorff_alpha_nominal"] or {}
        shown = alpha.get("value") if alpha.get("defined") else alpha.get("reason", "not defined")
        lines.append(f"| {cell(policy)} | {summary['mean']} | {cell(shown)} |")
    lines += [
        "",
        "## Policy versions",
        "",
        "| policy | present | current | labels before current |",
        "| --- | --- | ---: | ---: |",
    ]
    for policy, versions in sheet["policy_versions"].items():
        lines.append(
            f"| {cell(policy)} | {cell(versions['present'])} | {versions['current']} | "
            f"{versions['labels_before_current']} |"
        )
    lines += ["", "## Files", "", "| file | split | bytes | sha256 |", "| --- | --- | ---: | --- |"]
    lines.extend(
        f"| {entry['name']} | {entry['split'] or 'all'} | {entry['bytes']} | `{entry['sha256']}` |"
        for entry in sheet["files"]
    )
    lines += ["", "## Fields", ""]
    lines.extend(f"- `{item['name']}`: {item['description']}" for item in sheet["fields"])
    return "\n".join(lines) + "\n"


# --- the service -----------------------------------------------------------------------------


@dataclass
class _Pass:
    fingerprint: str
    tally: _Tally
    files: list[tuple[str, str | None]]


def _run_pass(
    queryset: QuerySet[Label],
    spec: ExportSpec,
    *,
    writer: RowWriter | None,
    pseudonym: _Keyed | None,
    batch_rows: int,
) -> _Pass:
    digest = hashlib.sha256(_fingerprint_header(spec))
    identity_token = _Keyed(_secret_key("reviewtool.export.identity"))
    tally = _Tally()
    assign = SplitAssigner(seed=spec.seed, splits=spec.splits)
    for batch in _row_batches(
        queryset, assign=assign, with_decisions=spec.with_decisions, batch_rows=batch_rows
    ):
        tally.add_batch(batch)
        digest.update(
            b"".join(
                _fingerprint_line(
                    _with_reviewers(row, identity_token) if spec.with_decisions else row
                )
                for row in batch
            )
        )
        if writer is not None:
            writer.write(
                [_with_reviewers(row, pseudonym) for row in batch]
                if spec.with_decisions and pseudonym is not None
                else batch
            )
    files = writer.close() if writer is not None else []
    return _Pass(fingerprint=digest.hexdigest(), tally=tally, files=files)


def _validate(spec: ExportSpec) -> None:
    if spec.format not in ExportFormat.values:
        raise ValidationFailed(
            f"Unknown format {spec.format!r} (one of {', '.join(ExportFormat.values)}).",
            {"fields": {"format": "Unknown format."}},
        )
    problem = _splits_problem(spec.splits)
    if problem:
        raise ValidationFailed(
            f"Bad split fractions {list(spec.splits)}: {problem}.", {"fields": {"splits": problem}}
        )


def _prepare_out_dir(out_dir: Path) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValidationFailed(f"The output folder {out_dir} exists and is not empty.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))


def dataset_export(
    *, spec: ExportSpec, out_dir: Path, actor: Any = None, batch_rows: int = BATCH_ROWS
) -> DatasetExport:
    """Write the labels ``spec`` selects into ``out_dir`` with a datasheet; record the snapshot.

    Nothing is written (no folder, no DatasetExport row) when the filters match no label: that
    is a ValidationFailed naming the filters. Files go to a hidden sibling folder first and are
    moved into ``out_dir`` (which must not exist or be empty) only when complete.
    """
    _validate(spec)
    queryset = labels_matching(spec.filters)
    if not queryset.exists():
        raise ValidationFailed(
            f"no labels match these filters: {_canonical(spec.filters.as_json())}",
            {"filters": spec.filters.as_json()},
        )
    out_dir = Path(out_dir).resolve()
    staging = _prepare_out_dir(out_dir)
    try:
        pseudonym = None
        first: _Pass | None = None
        if spec.with_decisions:
            first = _run_pass(queryset, spec, writer=None, pseudonym=None, batch_rows=batch_rows)
            pseudonym = _Keyed(reviewer_pseudonym_key(first.fingerprint))
        writer = _writer(spec.format, staging, with_decisions=spec.with_decisions)
        written = _run_pass(
            queryset, spec, writer=writer, pseudonym=pseudonym, batch_rows=batch_rows
        )
        if written.tally.rows == 0:
            raise ValidationFailed(
                f"no labels match these filters: {_canonical(spec.filters.as_json())}",
                {"filters": spec.filters.as_json()},
            )
        if first is not None and written.fingerprint != first.fingerprint:
            raise Conflict("The labels changed while they were exported; run the export again.")
        alphas = _krippendorff(queryset, {policy for _, policy, _ in written.tally.by_split_label})
        sheet = _datasheet(
            spec,
            written,
            alphas=alphas,
            staging=staging,
            item_count=queryset.order_by().values("item_id").distinct().count(),
        )
        (staging / "datasheet.json").write_text(
            json.dumps(sheet, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (staging / "DATASHEET.md").write_text(datasheet_markdown(sheet), encoding="utf-8")
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    with transaction.atomic():
        export = DatasetExport.objects.create(
            format=spec.format,
            filters=spec.filters.as_json(),
            fingerprint=written.fingerprint,
            path=str(out_dir),
            datasheet=sheet,
            row_count=written.tally.rows,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            action="dataset.export",
            obj=export,
            data={"fingerprint": export.fingerprint, "rows": export.row_count},
        )
    return export


def _datasheet(
    spec: ExportSpec, written: _Pass, *, alphas: Mapping[str, Any], staging: Path, item_count: int
) -> dict[str, Any]:
    tally = written.tally
    fields = _fields(spec.with_decisions)
    return {
        "fingerprint": written.fingerprint,
        "created_at": timezone.now().astimezone(UTC).isoformat(),
        "tool": _tool(),
        "format": spec.format,
        "filters": spec.filters.as_json(),
        "seed": spec.seed,
        "splits": dict(zip(SPLIT_NAMES, spec.splits, strict=False)),
        "split_method": "sha256(seed:item_id) against cumulative fractions; stratified by "
        "label in expectation, one split per item across policies",
        "with_decisions": spec.with_decisions,
        "reviewer_ids": (
            "pseudonymous: HMAC-SHA256 of the user id (or anonymous coder name) under a key "
            "derived from the server secret and this fingerprint"
            if spec.with_decisions
            else "not included"
        ),
        "row_count": tally.rows,
        "item_count": item_count,
        "golden_rows": tally.golden,
        "counts": _counts(tally),
        "label_distribution": _distribution(tally),
        "agreement": _agreement_summary(tally, alphas),
        "policy_versions": _policy_versions(tally),
        "fields": [{"name": name, "description": FIELD_DESCRIPTIONS[name]} for name in fields],
        "files": [_file_entry(staging / name, split) for name, split in written.files],
    }


def export_store_dir() -> Path:
    """Where exports requested through the API and the web page are written."""
    return Path(settings.REVIEWTOOL_EXPORT_DIR)


def dataset_export_to_store(*, spec: ExportSpec, actor: Any) -> DatasetExport:
    """An export into its own new folder under ``REVIEWTOOL_EXPORT_DIR`` (API and web page)."""
    name = f"{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
    return dataset_export(spec=spec, out_dir=export_store_dir() / name, actor=actor)


def export_file(export: DatasetExport, filename: str) -> Path | None:
    """The path of one of the export's listed files, or None: only names the datasheet lists
    (plus the datasheets) inside the export's own folder are served, never a path."""
    listed = {entry.get("name") for entry in export.datasheet.get("files", [])}
    listed |= {"datasheet.json", "DATASHEET.md"}
    if filename not in listed or "/" in filename or "\\" in filename or filename.startswith("."):
        return None
    folder = Path(export.path).resolve()
    candidate = (folder / filename).resolve()
    if candidate.parent != folder or not candidate.is_file():
        return None
    return candidate
