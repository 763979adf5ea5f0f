"""How an item's decisions become a label value: majority vote or Dawid-Skene, per queue.

``services.item_resolve`` calls :func:`resolve` once per policy of the queue. Only decisions of
the item's current review round count (the caller passes them). Nothing here writes.

Majority vote: the most common verdict; a tie, a share below ``queue.min_agreement`` or a share
below ``queue.min_confidence`` sends the item to adjudication. The label's confidence is that
share.

Dawid-Skene: the queue's recent current-round decisions (the last :data:`RATER_FIT_ITEMS` items
that have any) are fitted per policy, each reviewer one rater and each anonymous imported coder
one rater keyed by ``anonymous_reviewer``, so that a reviewer who is often wrong (or reliably
contrary) weighs less (or is read in reverse). The label is the item's most probable class and
its confidence that posterior; a posterior tie or a confidence below ``queue.min_confidence``
sends the item to adjudication. ``queue.min_agreement`` is a rule about raw vote shares and is
not applied here: outvoting an unreliable reviewer is what Dawid-Skene is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.db.models import Exists, F, OuterRef, Q

from labeling.aggregation import dawid_skene
from labeling.agreement import ratings_from_rows
from labeling.consensus import majority
from labeling.models import Decision, DecisionKind, Item, Policy, Queue, Retraction

# The Dawid-Skene fit reads at most this many items of a queue (the most recent ones), so a
# resolution costs the same on a queue of a thousand items as on one of a million.
RATER_FIT_ITEMS = 5000
# Two posteriors closer than this are a tie: no label is better than an arbitrary one.
POSTERIOR_TIE = 1e-6
# EM stops when no posterior moves more than this: far below any confidence threshold, and it
# takes a third fewer iterations than the default 1e-6 (measured on 5000 items, 3 ratings each).
FIT_TOLERANCE = 1e-4

COUNTED_KINDS = (DecisionKind.REVIEW, DecisionKind.IMPORT)


@dataclass(frozen=True)
class Outcome:
    """What the decisions say about one (item, policy).

    ``value`` is None when the item needs adjudication (``reason`` says why). ``agreement`` is
    the share of the item's counted decisions that chose ``value`` (the top share when there is
    none); ``confidence`` is the majority share or the Dawid-Skene posterior of ``value``.
    """

    value: str | None
    agreement: float
    confidence: float
    reason: str = ""


def resolve(*, item: Item, queue: Queue, policy: Policy, decisions: Sequence[Decision]) -> Outcome:
    """The outcome for ``policy`` of ``decisions`` (the item's counted, current-round ones)."""
    values = [str(d.verdicts[policy.slug]) for d in decisions if policy.slug in d.verdicts]
    if queue.aggregation == "dawid_skene":
        outcome = _by_dawid_skene(item=item, queue=queue, policy=policy, values=values)
    else:
        outcome = _by_majority(values=values, min_agreement=queue.min_agreement)
    if outcome.value is not None and outcome.confidence < queue.min_confidence:
        return Outcome(
            value=None,
            agreement=outcome.agreement,
            confidence=outcome.confidence,
            reason=f"confidence {outcome.confidence:.2f} below {queue.min_confidence:.2f}",
        )
    return outcome


def _by_majority(*, values: Sequence[str], min_agreement: float) -> Outcome:
    result = majority(values)
    if result.value is None:
        reason = "tie" if result.tie else "no verdicts"
        return Outcome(None, result.agreement, result.agreement, reason)
    if result.agreement < min_agreement:
        reason = f"agreement {result.agreement:.2f} below {min_agreement:.2f}"
        return Outcome(None, result.agreement, result.agreement, reason)
    return Outcome(result.value, result.agreement, result.agreement)


def _by_dawid_skene(*, item: Item, queue: Queue, policy: Policy, values: Sequence[str]) -> Outcome:
    if not values:
        return Outcome(None, 0.0, 0.0, "no verdicts")
    rows = queue_ratings(queue=queue, policy=policy, include=item)
    table = ratings_from_rows(rows, categories=list(policy.labels))
    result = dawid_skene(table, tol=FIT_TOLERANCE)
    posterior = result.posteriors[table.items.index(item.pk)]
    order = np.argsort(-posterior, kind="stable")
    top = int(order[0])
    confidence = float(posterior[top])
    value = str(policy.labels[top])
    agreement = values.count(value) / len(values)
    if len(order) > 1 and float(posterior[order[1]]) >= confidence - POSTERIOR_TIE:
        return Outcome(None, agreement, confidence, "tie")
    return Outcome(value, agreement, confidence)


def queue_ratings(
    *, queue: Queue, policy: Policy, include: Item | None = None, limit: int = RATER_FIT_ITEMS
) -> list[tuple[int, str, str]]:
    """``(item id, rater key, verdict)`` of the queue's counted current-round decisions.

    Only the ``limit`` most recent items (by id) that have such decisions are read, plus
    ``include`` whatever its age (an old item reopened for review). Rater keys are
    ``user:<id>`` for reviewers and ``anonymous:<name>`` for imported coders. Verdicts outside
    the policy's current label set (an older version's) are left out.
    """
    counted = (
        Decision.objects.filter(
            item__queue=queue, kind__in=COUNTED_KINDS, review_round=F("item__review_round")
        )
        .exclude(Exists(Retraction.objects.filter(decision=OuterRef("pk"))))
        .order_by()
    )
    cutoff = list(
        counted.order_by("-item_id").values_list("item_id", flat=True).distinct()[limit - 1 : limit]
    )
    if cutoff:
        scope = Q(item_id__gte=cutoff[0])
        if include is not None:
            scope |= Q(item_id=include.pk)
        counted = counted.filter(scope)
    allowed = set(policy.labels)
    latest: dict[tuple[int, str], str] = {}
    rows = counted.order_by("id").values_list(
        "item_id", "reviewer_id", "anonymous_reviewer", "verdicts"
    )
    for item_id, reviewer_id, anonymous, verdicts in rows:
        value = (verdicts or {}).get(policy.slug)
        if value not in allowed:
            continue
        rater = f"user:{reviewer_id}" if reviewer_id is not None else f"anonymous:{anonymous}"
        # A rater rates an item once per round; should a row repeat, the latest one counts.
        latest[(item_id, rater)] = str(value)
    return [(item_id, rater, value) for (item_id, rater), value in latest.items()]
