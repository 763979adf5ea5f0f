"""Listens to the human loop's signals; each receiver only enqueues a task."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.dispatch import receiver

from labeling.signals import items_ingested, labels_resolved, media_attached
from reviewtool.celery import enqueue


@receiver(labels_resolved, dispatch_uid="activelearning.retrain_if_due")
def _on_labels_resolved(sender: Any, *, policy_id: int, **kwargs: Any) -> None:
    if settings.REVIEWTOOL_RETRAIN_EVERY > 0:
        enqueue("activelearning.retrain_if_due", policy_id)


@receiver(items_ingested, dispatch_uid="activelearning.embed_items")
def _on_items_ingested(sender: Any, *, item_ids: list[int], **kwargs: Any) -> None:
    if settings.REVIEWTOOL_EMBED_ON_INGEST:
        for start in range(0, len(item_ids), 1000):
            enqueue("activelearning.embed_items", item_ids[start : start + 1000])


@receiver(media_attached, dispatch_uid="activelearning.process_media")
def _on_media_attached(sender: Any, *, asset_ids: list[int], **kwargs: Any) -> None:
    if settings.REVIEWTOOL_PROCESS_MEDIA:
        for asset_id in asset_ids:
            enqueue("activelearning.process_media", asset_id)
