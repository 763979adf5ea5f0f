"""Writes of the human loop: ingest, leases, decisions, consensus, adjudication.

Every service validates, writes inside ``transaction.atomic`` and enqueues follow-up work with
``transaction.on_commit``. Errors are ``ApplicationError`` subclasses. Callers import this
package (``from labeling import services``); the modules split it by the object written.
"""

from labeling.services.common import audit_record
from labeling.services.decisions import decision_submit, decision_undo
from labeling.services.ingest import (
    IngestResult,
    ItemInput,
    items_ingest,
    items_set_model_scores,
    items_set_priority,
)
from labeling.services.labels import (
    item_adjudicate,
    item_reopen,
    item_resolve,
    label_store,
    labels_announce,
)
from labeling.services.leases import (
    MAX_ACTIVE_LEASES_PER_QUEUE,
    lease_escalate,
    lease_next,
    lease_skip,
)
from labeling.services.policies import policy_create, policy_update, queue_create

__all__ = [
    "MAX_ACTIVE_LEASES_PER_QUEUE",
    "IngestResult",
    "ItemInput",
    "audit_record",
    "decision_submit",
    "decision_undo",
    "item_adjudicate",
    "item_reopen",
    "item_resolve",
    "items_ingest",
    "items_set_model_scores",
    "items_set_priority",
    "label_store",
    "labels_announce",
    "lease_escalate",
    "lease_next",
    "lease_skip",
    "policy_create",
    "policy_update",
    "queue_create",
]
