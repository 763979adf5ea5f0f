import pytest

from labeling import services
from labeling.models import ItemStatus, Label
from tests.factories import make_items


@pytest.mark.django_db
def test_a_decision_on_a_single_overlap_queue_becomes_a_label(queue, reviewer):
    make_items(queue, 3)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    assert lease is not None
    decision = services.decision_submit(
        token=lease.token, reviewer=reviewer, verdicts={"hate": "violating"}, idempotency_key="k1"
    )
    again = services.decision_submit(
        token=lease.token, reviewer=reviewer, verdicts={"hate": "violating"}, idempotency_key="k1"
    )
    assert again.pk == decision.pk
    label = Label.objects.get(item=lease.item)
    assert label.value == "violating"
    lease.item.refresh_from_db()
    assert lease.item.status == ItemStatus.RESOLVED
