"""Reads of media: which assets a user may see, an item's media in display order, and each
reviewer's exposure to media today (for graphic policies' daily budgets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from labeling.models import (
    Decision,
    DecisionKind,
    Item,
    ItemMedia,
    MediaAsset,
    MediaStatus,
    Policy,
    Queue,
    ReviewerPreference,
)
from labeling.roles import sees_all_queues
from labeling.selectors import items_for_user


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def media_file(asset: MediaAsset) -> Path:
    """Where an asset's bytes are stored (content-addressed under MEDIA_ROOT)."""
    return media_root() / asset.storage_path


def media_asset_for_user(user: Any, sha256: str) -> MediaAsset | None:
    """The asset with this hash if the user may see an item carrying it (staff: any attached
    asset; reviewers: one on an item of their queues), else None."""
    if not getattr(user, "is_authenticated", False):
        return None
    assets = MediaAsset.objects.filter(sha256=sha256)
    if sees_all_queues(user):
        attachments = ItemMedia.objects.filter(asset=OuterRef("pk"))
    else:
        attachments = ItemMedia.objects.filter(
            asset=OuterRef("pk"), item__in=items_for_user(user).order_by()
        )
    return assets.filter(Exists(attachments)).first()


def item_media(item: Item) -> list[MediaAsset]:
    """The item's assets in position order (uses a ``media__asset`` prefetch when present)."""
    return [attachment.asset for attachment in item.media.all()]


def reveal_media_by_default(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return ReviewerPreference.objects.filter(user=user, reveal_media_by_default=True).exists()


# --- exposure to graphic media -------------------------------------------------------------------


def _day_start(now: datetime) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def media_decisions_today(*, now: datetime | None = None) -> QuerySet[Decision]:
    """Review decisions made today (local day) on items that carry media."""
    start = _day_start(now or timezone.now())
    return Decision.objects.filter(
        kind=DecisionKind.REVIEW,
        reviewer__isnull=False,
        created_at__gte=start,
    ).filter(Exists(ItemMedia.objects.filter(item=OuterRef("item"))))


def media_exposure_today(*, reviewer: Any, policy: Policy, now: datetime | None = None) -> int:
    """Media items ``reviewer`` judged today under ``policy``."""
    return (
        media_decisions_today(now=now)
        .filter(reviewer=reviewer, verdicts__has_key=policy.slug)
        .values("item")
        .distinct()
        .count()
    )


def media_budget_spent(*, queue: Queue, reviewer: Any, now: datetime) -> bool:
    """True when ``reviewer`` has seen today's budget of media items under one of ``queue``'s
    graphic policies: the queue then serves them only items without media."""
    capped = [
        policy
        for policy in queue.policies.all()
        if policy.graphic and policy.daily_exposure_budget > 0
    ]
    return any(
        media_exposure_today(reviewer=reviewer, policy=policy, now=now)
        >= policy.daily_exposure_budget
        for policy in capped
    )


@dataclass(frozen=True)
class ExposureRow:
    reviewer: str
    policy: str
    graphic: bool
    media_items: int
    budget: int

    @property
    def over_budget(self) -> bool:
        return self.graphic and self.budget > 0 and self.media_items >= self.budget


def exposure_today(*, now: datetime | None = None) -> list[ExposureRow]:
    """Per reviewer and policy: media items judged today, with the policy's budget."""
    policies = {policy.slug: policy for policy in Policy.objects.all()}
    counts: dict[tuple[str, str], set[int]] = {}
    rows = media_decisions_today(now=now).values_list("reviewer__username", "item_id", "verdicts")
    for username, item_id, verdicts in rows:
        for slug in verdicts or {}:
            counts.setdefault((username, slug), set()).add(item_id)
    result = []
    for (username, slug), items in sorted(counts.items()):
        policy = policies.get(slug)
        result.append(
            ExposureRow(
                reviewer=username,
                policy=policy.name if policy else slug,
                graphic=bool(policy and policy.graphic),
                media_items=len(items),
                budget=policy.daily_exposure_budget if policy else 0,
            )
        )
    return result


# --- media of items, for the machine side -------------------------------------------------------


@dataclass(frozen=True)
class ItemMediaFile:
    """One attached file as the machine side reads it: kind, path on disk, and the extracted text
    (OCR, transcript) when the media workers have stored it (``None`` while not ready)."""

    kind: str
    path: Path
    ready_text: str | None


def media_paths_for_items(item_ids: Sequence[int]) -> dict[int, list[ItemMediaFile]]:
    """The media files of ``item_ids`` in display order; items without media are absent."""
    rows = (
        ItemMedia.objects.filter(item_id__in=list(item_ids))
        .select_related("asset")
        .order_by("item_id", "position")
    )
    result: dict[int, list[ItemMediaFile]] = {}
    for link in rows:
        asset = link.asset
        ready = asset.status == MediaStatus.READY
        result.setdefault(link.item_id, []).append(
            ItemMediaFile(
                kind=asset.kind,
                path=media_file(asset),
                ready_text=asset.extracted_text if ready else None,
            )
        )
    return result


def policy_has_media(policy: Policy) -> bool:
    """Whether any item of a queue judging ``policy`` carries media (one EXISTS query)."""
    return ItemMedia.objects.filter(item__queue__policies=policy).exists()
