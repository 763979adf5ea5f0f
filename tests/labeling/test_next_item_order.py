"""The next-item query looks at open slots and expired leases separately; the order still holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling import services
from labeling.models import Lease, LeaseState
from tests.factories import make_items


@pytest.mark.django_db
def test_an_expired_lease_of_a_higher_priority_item_comes_before_open_slots(
    queue, reviewer, other_reviewer
):
    _low, high = make_items(queue, 2)  # priorities 0.0 and 1.0
    taken = services.lease_next(queue=queue, reviewer=other_reviewer)
    assert taken is not None and taken.item_id == high.pk
    Lease.objects.filter(pk=taken.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    lease = services.lease_next(queue=queue, reviewer=reviewer)

    assert lease is not None
    assert (lease.pk, lease.state, lease.reviewer_id) == (taken.pk, LeaseState.LEASED, reviewer.pk)


@pytest.mark.django_db
def test_an_open_slot_of_a_higher_priority_item_comes_before_an_expired_lease(
    queue, reviewer, other_reviewer
):
    low, high = make_items(queue, 2)
    Lease.objects.filter(item=low).update(
        state=LeaseState.LEASED,
        reviewer=other_reviewer,
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    lease = services.lease_next(queue=queue, reviewer=reviewer)

    assert lease is not None and lease.item_id == high.pk
