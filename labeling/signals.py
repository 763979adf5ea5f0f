"""Hooks the machine side listens to, so that labeling never imports activelearning.

They are sent after the transaction commits. Receivers must be cheap (enqueue a task at most).
"""

from django.dispatch import Signal

# kwargs: item_ids (list[int])
items_ingested = Signal()
# kwargs: policy_id (int), label_ids (list[int])
labels_resolved = Signal()
# kwargs: asset_ids (list[int]) — media newly attached to an item, to be processed
media_attached = Signal()
