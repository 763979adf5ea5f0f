"""Aggregation of decisions into labels: majority vote and Dawid-Skene (labeling/resolution.py)."""

from __future__ import annotations

import numpy as np
import pytest

from labeling import resolution, services
from labeling.consensus import majority
from labeling.models import (
    Decision,
    DecisionKind,
    Item,
    ItemStatus,
    Label,
    Queue,
    QueueOrder,
    Roles,
)
from tests.factories import UserFactory, make_items, make_queue

pytestmark = pytest.mark.django_db

LABELS = ["violating", "borderline", "not_violating"]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _set(queue: Queue, **fields) -> Queue:
    Queue.objects.filter(pk=queue.pk).update(**fields)
    queue.refresh_from_db()
    return queue


def _decide(queue, user, choose):
    """Lease the user's next item and decide it with ``choose(item) -> verdict``."""
    lease = services.lease_next(queue=queue, reviewer=user)
    assert lease is not None and lease.token is not None
    value = choose(lease.item)
    services.decision_submit(token=lease.token, reviewer=user, verdicts={"hate": value})
    return lease.item


# --- majority ------------------------------------------------------------------------------------


def test_a_majority_label_stores_its_share_as_confidence(policy, reviewer, other_reviewer, senior):
    queue = make_queue(
        slug="three",
        policies=[policy],
        reviewers=[reviewer, other_reviewer, senior],
        overlap=3,
        min_agreement=0.6,
    )
    (item,) = make_items(queue, 1)
    _decide(queue, reviewer, lambda _: "violating")
    _decide(queue, other_reviewer, lambda _: "violating")
    _decide(queue, senior, lambda _: "borderline")
    label = Label.objects.get(item=item)
    assert label.value == "violating"
    assert label.confidence == pytest.approx(2 / 3)
    assert label.agreement == pytest.approx(2 / 3)


def test_a_majority_share_below_min_confidence_goes_to_adjudication(
    policy, reviewer, other_reviewer, senior
):
    queue = make_queue(
        slug="three",
        policies=[policy],
        reviewers=[reviewer, other_reviewer, senior],
        overlap=3,
        min_agreement=0.5,
    )
    queue = _set(queue, min_confidence=0.7)
    (item,) = make_items(queue, 1)
    _decide(queue, reviewer, lambda _: "violating")
    _decide(queue, other_reviewer, lambda _: "violating")
    _decide(queue, senior, lambda _: "borderline")
    item.refresh_from_db()
    assert item.status == ItemStatus.ADJUDICATION
    assert not Label.objects.filter(item=item).exists()


def test_a_majority_tie_goes_to_adjudication(policy, reviewer, other_reviewer):
    queue = make_queue(
        slug="two", policies=[policy], reviewers=[reviewer, other_reviewer], overlap=2
    )
    queue = _set(queue, min_agreement=0.5)
    outcome = resolution.resolve(
        item=make_items(queue, 1)[0],
        queue=queue,
        policy=policy,
        decisions=[
            Decision(verdicts={"hate": "violating"}),
            Decision(verdicts={"hate": "borderline"}),
        ],
    )
    assert (outcome.value, outcome.reason) == (None, "tie")


# --- Dawid-Skene ---------------------------------------------------------------------------------


@pytest.fixture
def crowd(policy, reviewer, other_reviewer):
    """Two good reviewers (80% right, wrong at random) and one who is always wrong the same way."""
    adversary = UserFactory(username="adam", roles=[Roles.REVIEWER])
    queue = make_queue(
        slug="crowd",
        policies=[policy],
        reviewers=[reviewer, other_reviewer, adversary],
        overlap=3,
        min_agreement=0.6,
    )
    return _set(queue, aggregation="dawid_skene"), reviewer, other_reviewer, adversary


def test_dawid_skene_follows_the_reliable_reviewers_where_majority_fails(crowd):
    queue, good_one, good_two, adversary = crowd
    rng = np.random.default_rng(7)
    items = make_items(queue, 60)
    truth = {item.pk: int(rng.integers(3)) for item in items}
    given: dict[int, list[str]] = {item.pk: [] for item in items}

    def good(item: Item) -> str:
        code = truth[item.pk]
        if rng.random() >= 0.8:
            code = (code + int(rng.integers(1, 3))) % 3
        given[item.pk].append(LABELS[code])
        return LABELS[code]

    def contrary(item: Item) -> str:
        given[item.pk].append(LABELS[(truth[item.pk] + 1) % 3])
        return given[item.pk][-1]

    for user, choose in ((good_one, good), (good_two, good), (adversary, contrary)):
        for _ in items:
            _decide(queue, user, choose)

    labels = {label.item_id: label for label in Label.objects.filter(item__queue=queue)}
    assert Item.objects.filter(queue=queue, status=ItemStatus.RESOLVED).count() == 60
    assert all(0.0 < (label.confidence or 0.0) <= 1.0 for label in labels.values())
    right = [labels[pk].value == LABELS[truth[pk]] for pk in truth]
    assert sum(right) >= 54  # 90%; the first few resolve before the adversary is known
    # Where a plain vote ties or picks the adversary's answer, Dawid-Skene mostly does not.
    majority_fails = [pk for pk in truth if majority(given[pk]).value != LABELS[truth[pk]]]
    assert len(majority_fails) >= 5
    rescued = [pk for pk in majority_fails if labels[pk].value == LABELS[truth[pk]]]
    assert len(rescued) >= 0.8 * len(majority_fails)


@pytest.mark.parametrize(("min_confidence", "status"), [(0.0, "resolved"), (0.9, "adjudication")])
def test_dawid_skene_sends_a_low_posterior_to_adjudication(
    policy, reviewer, other_reviewer, min_confidence, status
):
    queue = make_queue(
        slug="pair",
        policies=[policy],
        reviewers=[reviewer, other_reviewer],
        overlap=2,
        order=QueueOrder.OLDEST,
    )
    queue = _set(queue, aggregation="dawid_skene", min_confidence=min_confidence)
    items = make_items(queue, 5)
    # Four items they agree on (two of them violating), then one they split on.
    agreed = {item.pk: LABELS[index % 3] for index, item in enumerate(items[:4])}

    def verdict(mine: str):
        return lambda item: agreed.get(item.pk, mine)

    for user, split in ((reviewer, "violating"), (other_reviewer, "borderline")):
        for _ in items:
            _decide(queue, user, verdict(split))
    last = Item.objects.get(pk=items[4].pk)
    assert last.status == status
    if status == "resolved":
        label = Label.objects.get(item=last)
        # The priors lean towards the class seen more often; the posterior stays uncertain.
        assert label.value == "violating"
        assert 0.5 < (label.confidence or 0.0) < 0.9
        assert label.agreement == pytest.approx(0.5)
    else:
        assert not Label.objects.filter(item=last).exists()


def test_a_dawid_skene_posterior_tie_goes_to_adjudication(policy, reviewer, other_reviewer):
    queue = make_queue(
        slug="pair", policies=[policy], reviewers=[reviewer, other_reviewer], overlap=2
    )
    queue = _set(queue, aggregation="dawid_skene")
    (item,) = make_items(queue, 1)
    _decide(queue, reviewer, lambda _: "violating")
    _decide(queue, other_reviewer, lambda _: "borderline")
    item.refresh_from_db()
    assert item.status == ItemStatus.ADJUDICATION


def test_the_rater_fit_reads_the_most_recent_items_and_the_one_resolved(policy, reviewer):
    queue = make_queue(slug="imports", policies=[policy], reviewers=[reviewer])
    items = make_items(queue, 5)
    for item in items:
        for coder, value in (("d:1", "violating"), ("d:2", "borderline")):
            Decision.objects.create(
                item=item,
                kind=DecisionKind.IMPORT,
                anonymous_reviewer=coder,
                verdicts={"hate": value},
            )
    rows = resolution.queue_ratings(queue=queue, policy=policy, include=items[0], limit=2)
    assert {item_id for item_id, _, _ in rows} == {items[0].pk, items[3].pk, items[4].pk}
    assert {rater for _, rater, _ in rows} == {"anonymous:d:1", "anonymous:d:2"}


def test_the_rater_fit_counts_only_the_current_round(policy, reviewer):
    queue = make_queue(slug="rounds", policies=[policy], reviewers=[reviewer])
    (item,) = make_items(queue, 1)
    Decision.objects.create(item=item, reviewer=reviewer, verdicts={"hate": "violating"})
    Item.objects.filter(pk=item.pk).update(review_round=1)
    assert resolution.queue_ratings(queue=queue, policy=policy) == []
    Decision.objects.create(
        item=item, reviewer=reviewer, verdicts={"hate": "borderline"}, review_round=1
    )
    assert resolution.queue_ratings(queue=queue, policy=policy) == [
        (item.pk, f"user:{reviewer.pk}", "borderline")
    ]
