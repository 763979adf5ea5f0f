"""Reads of media: which assets a user may see, and an item's media in display order."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef

from labeling.models import Item, ItemMedia, MediaAsset, ReviewerPreference
from labeling.roles import sees_all_queues
from labeling.selectors import items_for_user


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
