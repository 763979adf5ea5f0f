"""Selecting the labels as rows (streamed), their decisions, pseudonyms and the fingerprint."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from labeling.export.spec import (
    _CREATED,
    _POLICY,
    _QUERY_FIELDS,
    CHUNK_SIZE,
    DECISIONS_FIELD,
    FINGERPRINT_VERSION,
    ROW_FIELDS,
    ExportFilters,
    ExportSpec,
    Row,
    SplitAssigner,
)
from labeling.models import (
    Decision,
    Label,
    LabelSource,
    Policy,
    Queue,
)
from reviewtool.exceptions import ValidationFailed


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
