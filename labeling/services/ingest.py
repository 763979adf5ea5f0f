"""Ingest items with their review slots, and the machine side's writes onto items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from labeling import signals
from labeling.models import (
    Item,
    Lease,
    LeaseState,
    Policy,
    Queue,
)
from labeling.services.common import audit_record
from reviewtool.exceptions import ValidationFailed


@dataclass(frozen=True)
class ItemInput:
    external_id: str
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    language: str = ""
    received_at: datetime | None = None
    priority: float = 0.0


@dataclass(frozen=True)
class IngestResult:
    created: list[Item]
    existing: list[Item]


def items_ingest(
    *, queue: Queue, items: Sequence[ItemInput], source: str = "api", actor: Any = None
) -> IngestResult:
    """Create items with their review slots; idempotent on (source, external id).

    An item that already exists is returned in ``existing`` and left untouched, so a client can
    retry a whole batch after a timeout.
    """
    _validate_item_inputs(items)
    try:
        return _ingest_once(queue=queue, items=items, source=source, actor=actor)
    except IntegrityError:
        # A concurrent request (say a client's retry while its first try still ran) stored some
        # of these items first; a second pass finds them and reports them as existing.
        return _ingest_once(queue=queue, items=items, source=source, actor=actor)


def _ingest_once(
    *, queue: Queue, items: Sequence[ItemInput], source: str, actor: Any
) -> IngestResult:
    now = timezone.now()
    with transaction.atomic():
        ids = [entry.external_id for entry in items]
        found = {
            item.external_id: item
            for item in Item.objects.filter(source=source, external_id__in=ids)
        }
        new_items = [
            Item(
                queue=queue,
                source=source,
                external_id=entry.external_id,
                text=entry.text,
                metadata=dict(entry.metadata),
                language=entry.language,
                received_at=entry.received_at or now,
                priority=entry.priority,
            )
            for entry in items
            if entry.external_id not in found
        ]
        created = Item.objects.bulk_create(new_items, batch_size=1000)
        Lease.objects.bulk_create(
            [
                Lease(
                    item=item,
                    slot=slot,
                    queue=queue,
                    priority=item.priority,
                    received_at=item.received_at,
                )
                for item in created
                for slot in range(queue.overlap)
            ],
            batch_size=2000,
        )
        if created:
            audit_record(
                actor=actor, action="items.ingest", obj=queue, data={"created": len(created)}
            )
            created_ids = [item.pk for item in created]
            transaction.on_commit(lambda: signals.items_ingested.send(Item, item_ids=created_ids))
    return IngestResult(created=created, existing=list(found.values()))


def _validate_item_inputs(items: Sequence[ItemInput]) -> None:
    seen: set[str] = set()
    errors: dict[str, str] = {}
    for index, entry in enumerate(items):
        if not entry.external_id or len(entry.external_id) > 255:
            errors[str(index)] = "external_id must be 1 to 255 characters."
        elif entry.external_id in seen:
            errors[str(index)] = f"duplicate external_id {entry.external_id!r} in this batch."
        seen.add(entry.external_id)
    if errors:
        raise ValidationFailed("Some items are invalid; nothing was stored.", {"rows": errors})


PRIORITY_BATCH = 2000


def items_set_priority(*, priorities: Mapping[int, float]) -> int:
    """Re-rank items (the active-learning side calls this); open slots follow their item."""
    ids = list(priorities)
    updated = 0
    for start in range(0, len(ids), PRIORITY_BATCH):
        batch = ids[start : start + PRIORITY_BATCH]
        with transaction.atomic():
            items = [Item(pk=item_id, priority=priorities[item_id]) for item_id in batch]
            updated += Item.objects.bulk_update(items, ["priority"])
            Lease.objects.filter(item_id__in=batch).exclude(state=LeaseState.DONE).update(
                priority=Subquery(Item.objects.filter(pk=OuterRef("item_id")).values("priority"))
            )
    return updated


def items_set_model_scores(
    *, policy: Policy, model_version_id: int, scores: Mapping[int, Mapping[str, float]]
) -> int:
    """Store a model's class probabilities per item for one policy (``{item id: {label: p}}``).

    The item keeps ``model_scores[policy] = {"label", "score", "proba"}``: the top label, its
    probability, and all of them; this is what reviewers see as the suggestion.
    """
    ids = list(scores)
    updated = 0
    for start in range(0, len(ids), PRIORITY_BATCH):
        batch = ids[start : start + PRIORITY_BATCH]
        with transaction.atomic():
            items = list(Item.objects.filter(pk__in=batch).only("id", "model_scores"))
            for item in items:
                proba = {label: float(p) for label, p in scores[item.pk].items()}
                top = max(proba, key=lambda label: proba[label])
                item.model_scores = {
                    **(item.model_scores or {}),
                    policy.slug: {"label": top, "score": proba[top], "proba": proba},
                }
                item.model_version_id = model_version_id
            updated += Item.objects.bulk_update(items, ["model_scores", "model_version_id"])
    return updated
