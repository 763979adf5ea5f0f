"""Queue statistics: counts per status, recomputed from scratch (so the refresh is idempotent)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from labeling.models import Decision, Item, ItemStatus, Queue, QueueStats


def queue_stats_refresh(*, queue_id: int) -> QueueStats | None:
    queue = Queue.objects.filter(pk=queue_id).first()
    if queue is None:
        return None
    by_status = dict(
        Item.objects.filter(queue=queue)
        .values_list("status")
        .annotate(count=Count("id"))
        .values_list("status", "count")
    )
    since = timezone.now() - timedelta(hours=1)
    stats, _ = QueueStats.objects.update_or_create(
        queue=queue,
        defaults={
            "pending": by_status.get(ItemStatus.PENDING, 0),
            "in_review": by_status.get(ItemStatus.IN_REVIEW, 0),
            "adjudication": by_status.get(ItemStatus.ADJUDICATION, 0),
            "escalated": by_status.get(ItemStatus.ESCALATED, 0),
            "resolved": by_status.get(ItemStatus.RESOLVED, 0),
            "decisions_last_hour": Decision.objects.filter(
                item__queue=queue, created_at__gte=since
            ).count(),
            "refreshed_at": timezone.now(),
        },
    )
    return stats
