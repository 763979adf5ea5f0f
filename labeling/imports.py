"""The write side of importing item files: validate the whole file, then import it in one go.

``items_import_file`` reads a file twice, streaming both times: a validation pass that stores
nothing and collects every row error by physical line, and, only if the file is clean, a write
pass in batches inside a single transaction, so a failure anywhere leaves nothing behind.
Re-running an import creates nothing new: items are idempotent on (source, external id), and
decisions and labels are only added to items this run created.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from django.db import transaction

from labeling import services
from labeling.import_check import CheckReport, records_check
from labeling.importers import (
    PRESET_LABELS,
    FieldMap,
    ImportFormat,
    Parsed,
    ProgressCallback,
    Record,
    RowError,
    records_read,
)
from labeling.media import MediaRejected, media_inspect
from labeling.media_services import MediaUpload, media_attach
from labeling.models import (
    DEFAULT_LABELS,
    Decision,
    DecisionKind,
    Item,
    ItemStatus,
    Label,
    LabelSource,
    Lease,
    LeaseState,
    Policy,
    Queue,
)
from labeling.tasks import refresh_queue_stats
from reviewtool.exceptions import ValidationFailed

BATCH_SIZE = 1000
# The verdict a preset's own positive class stands for, when the import creates the policy.
PRESET_POSITIVE_LABELS = {ImportFormat.DAVIDSON: ["hate_speech"], ImportFormat.SMS: ["spam"]}

# Given a phase name ("validating", "importing") and the file size in bytes, a context that
# yields a callback taking the number of bytes just read.
ProgressFactory = Callable[[str, int], AbstractContextManager[ProgressCallback | None]]


@dataclass(frozen=True)
class ImportSpec:
    path: Path
    fmt: ImportFormat
    queue_slug: str
    policy_slug: str
    source: str
    fields: FieldMap = field(default_factory=FieldMap)
    with_labels: bool = True
    offset: int = 0
    limit: int | None = None


@dataclass
class ImportSummary:
    rows: int = 0
    items_created: int = 0
    items_existing: int = 0
    decisions_created: int = 0
    labels_created: int = 0
    media_attached: int = 0
    policy_created: bool = False
    queue_created: bool = False
    validate_seconds: float = 0.0
    write_seconds: float = 0.0


@dataclass(frozen=True)
class ImportedLabel:
    item: Item
    value: str
    agreement: float | None = None


def _no_progress(phase: str, total: int) -> AbstractContextManager[ProgressCallback | None]:
    return nullcontext(None)


def items_import_file(
    *, spec: ImportSpec, actor: Any = None, progress: ProgressFactory = _no_progress
) -> ImportSummary:
    """Import ``spec.path`` into a queue under a policy, creating either when missing.

    Raises ``ValidationFailed`` with ``extra["errors"]`` (the first row errors as
    ``{"line", "message"}``) and ``extra["error_count"]`` when any row is invalid; then nothing,
    not even the queue or policy, is stored. A new policy takes the preset's label set, or the
    distinct labels of the file (CSV/JSONL), or ``DEFAULT_LABELS`` when the file has none.
    """
    policy = Policy.objects.filter(slug=spec.policy_slug).first()
    queue = Queue.objects.filter(slug=spec.queue_slug).first()
    if queue is not None and (policy is None or not queue.policies.filter(pk=policy.pk).exists()):
        raise ValidationFailed(
            f"Queue {spec.queue_slug!r} exists but does not review policy {spec.policy_slug!r}.",
            {"errors": [], "error_count": 0},
        )
    summary = ImportSummary()
    started = time.monotonic()
    with progress("validating", spec.path.stat().st_size) as advance:
        report = records_check(
            _media_checked(_read(spec, advance), base=spec.path.parent),
            allowed_labels=policy.labels if policy is not None else None,
            with_labels=spec.with_labels,
        )
    summary.validate_seconds = time.monotonic() - started
    new_labels = _new_policy_labels(spec, report) if policy is None else None
    if not report.ok:
        raise _rows_invalid(report)
    started = time.monotonic()
    with transaction.atomic():
        if policy is None:
            policy = services.policy_create(
                slug=spec.policy_slug,
                name=_title(spec.policy_slug),
                labels=new_labels,
                positive_labels=PRESET_POSITIVE_LABELS.get(spec.fmt),
                actor=actor,
            )
            summary.policy_created = True
        if queue is None:
            queue = services.queue_create(
                slug=spec.queue_slug, name=_title(spec.queue_slug), policies=[policy], actor=actor
            )
            summary.queue_created = True
        with progress("importing", spec.path.stat().st_size) as advance:
            for batch in _batches(_read(spec, advance), BATCH_SIZE):
                _batch_import(
                    spec=spec,
                    queue=queue,
                    policy=policy,
                    batch=batch,
                    summary=summary,
                    actor=actor,
                )
        services.audit_record(
            actor=actor,
            action="items.import",
            obj=queue,
            data={
                "file": spec.path.name,
                "format": str(spec.fmt),
                "source": spec.source,
                "rows": summary.rows,
                "created": summary.items_created,
            },
        )
        queue_id = queue.pk
        transaction.on_commit(lambda: refresh_queue_stats.delay(queue_id))
    summary.write_seconds = time.monotonic() - started
    return summary


def _read(spec: ImportSpec, advance: ProgressCallback | None) -> Iterator[Parsed]:
    return records_read(
        spec.path,
        fmt=spec.fmt,
        fields=spec.fields,
        offset=spec.offset,
        limit=spec.limit,
        progress=advance,
    )


def _media_checked(parsed: Iterable[Parsed], *, base: Path) -> Iterator[Parsed]:
    """The validation pass over a manifest's media: every listed file must exist inside the
    manifest's folder (symbolic links leading out of it are refused too) and pass the media
    checks; a record with a bad file becomes a row error, so nothing is imported."""
    root = base.resolve()
    for entry in parsed:
        if isinstance(entry, RowError) or not entry.media:
            yield entry
            continue
        problem = next(
            (message for path in entry.media if (message := _media_problem(root, path))), None
        )
        yield RowError(entry.line, problem, row=entry.row) if problem else entry


def _media_problem(root: Path, relative: str) -> str | None:
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return f"media {relative!r}: the path leads outside the manifest's folder"
    if not path.is_file():
        return f"media {relative!r}: no such file next to the manifest"
    try:
        media_inspect(path)
    except MediaRejected as refusal:
        return f"media {relative!r}: {refusal.message}"
    return None


def _new_policy_labels(spec: ImportSpec, report: CheckReport) -> list[str]:
    if spec.fmt in PRESET_LABELS:
        return list(PRESET_LABELS[spec.fmt])
    labels = report.labels if spec.with_labels else []
    if len(labels) > 9:
        # Checked here rather than by policy_create so that it is reported with the row errors.
        report.add_error(
            RowError(
                1,
                f"the file holds {len(labels)} distinct labels; a policy holds at most 9 "
                f"(first ones: {', '.join(map(repr, labels[:12]))})",
            )
        )
    return labels or list(DEFAULT_LABELS)


def _rows_invalid(report: CheckReport) -> ValidationFailed:
    return ValidationFailed(
        f"{report.error_count} error(s) in the file; nothing was imported.",
        {
            "errors": [{"line": error.line, "message": error.message} for error in report.errors],
            "error_count": report.error_count,
            "lines": report.error_lines(),
        },
    )


def _batches(parsed: Iterable[Parsed], size: int) -> Iterator[list[Record]]:
    iterator = iter(parsed)
    while batch := list(islice(iterator, size)):
        errors = [entry for entry in batch if isinstance(entry, RowError)]
        if errors:
            # The file changed between the two passes; the transaction rolls everything back.
            report = CheckReport()
            for error in errors:
                report.add_error(error)
            raise _rows_invalid(report)
        yield [entry for entry in batch if isinstance(entry, Record)]


def _title(slug: str) -> str:
    return slug.replace("-", " ").replace("_", " ").capitalize()


def _batch_import(
    *,
    spec: ImportSpec,
    queue: Queue,
    policy: Policy,
    batch: list[Record],
    summary: ImportSummary,
    actor: Any = None,
) -> None:
    result = services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(
                external_id=record.external_id, text=record.text, metadata=dict(record.metadata)
            )
            for record in batch
        ],
        source=spec.source,
    )
    summary.rows += len(batch)
    summary.items_created += len(result.created)
    summary.items_existing += len(result.existing)
    _media_import(spec=spec, batch=batch, created=result.created, summary=summary, actor=actor)
    if not spec.with_labels or not result.created:
        return
    created = {item.external_id: item for item in result.created}
    labeled = [
        (created[record.external_id], record)
        for record in batch
        if record.external_id in created and record.label
    ]
    summary.decisions_created += len(
        decisions_import(
            policy=policy,
            coder_prefix=str(spec.fmt),
            votes=[(item, record.votes) for item, record in labeled],
        )
    )
    summary.labels_created += len(
        labels_import(
            policy=policy,
            labels=[
                ImportedLabel(item=item, value=str(record.label), agreement=record.agreement)
                for item, record in labeled
            ],
        )
    )


def _media_import(
    *,
    spec: ImportSpec,
    batch: Sequence[Record],
    created: Sequence[Item],
    summary: ImportSummary,
    actor: Any,
) -> None:
    """Attach a manifest's media to the items this run created (checked in the first pass)."""
    items = {item.external_id: item for item in created}
    root = spec.path.parent.resolve()
    for record in batch:
        item = items.get(record.external_id)
        if item is None or not record.media:
            continue
        uploads = [MediaUpload(name=path, path=root / path) for path in record.media]
        summary.media_attached += len(media_attach(item=item, uploads=uploads, actor=actor))


def decisions_import(
    *,
    policy: Policy,
    coder_prefix: str,
    votes: Sequence[tuple[Item, Mapping[str, int]]],
) -> list[Decision]:
    """One anonymous import Decision per vote: ``{"neither": 2}`` makes two, by coders
    ``<prefix>:1`` and ``<prefix>:2`` (numbered within the item; datasets publish no coder ids)."""
    decisions = []
    for item, counts in votes:
        coder = 0
        for value, count in counts.items():
            if value not in policy.labels:
                raise ValidationFailed(f"{value!r} is not a label of policy {policy.slug!r}.")
            for _ in range(count):
                coder += 1
                decisions.append(
                    Decision(
                        item=item,
                        kind=DecisionKind.IMPORT,
                        reviewer=None,
                        anonymous_reviewer=f"{coder_prefix}:{coder}",
                        verdicts={policy.slug: value},
                    )
                )
    return Decision.objects.bulk_create(decisions, batch_size=2000)


def labels_import(*, policy: Policy, labels: Sequence[ImportedLabel]) -> list[Label]:
    """Store imported labels as resolved: Label (source import), item RESOLVED, its slots closed.

    Each label goes through ``services.label_store`` (same validation, version stamp and
    replace-if-present rule as every other label); listeners hear of the whole batch once, so
    that an import of thousands of labels wakes the machine side once, not per label.
    """
    if not labels:
        return []
    item_ids = [entry.item.pk for entry in labels]
    with transaction.atomic():
        stored = [
            services.label_store(
                item=entry.item,
                policy=policy,
                value=entry.value,
                source=LabelSource.IMPORT,
                agreement=entry.agreement,
                announce=False,
            )
            for entry in labels
        ]
        Item.objects.filter(pk__in=item_ids).update(status=ItemStatus.RESOLVED)
        # As services close the slots of a resolved item: the next-item scan skips them.
        Lease.objects.filter(item_id__in=item_ids).exclude(state=LeaseState.DONE).update(
            state=LeaseState.DONE, token=None, expires_at=None
        )
        services.labels_announce(labels=stored)
    return stored
