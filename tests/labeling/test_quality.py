"""Quality selectors: agreement against hand-computed examples, "not defined" below two raters,
what counts as a rating, agreement per week, accuracy trends, backlog and label errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from labeling import golden, quality
from labeling.models import (
    Decision,
    DecisionKind,
    GoldenItem,
    Item,
    ItemStatus,
    Retraction,
)
from tests.factories import PolicyFactory, UserFactory, make_items, make_queue

pytestmark = pytest.mark.django_db

V, N = "violating", "not_violating"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def rate(item, user, value, *, kind=DecisionKind.REVIEW, anonymous="", slug="hate", **extra):
    return Decision.objects.create(
        item=item,
        reviewer=user,
        anonymous_reviewer=anonymous,
        kind=kind,
        verdicts={slug: value},
        **extra,
    )


@pytest.fixture
def four_items(queue):
    return make_items(queue, 4)


@pytest.fixture
def two_raters(four_items, reviewer, other_reviewer):
    """Rita: V V N N; Oscar: V N N N."""
    for item, a, b in zip(four_items, [V, V, N, N], [V, N, N, N], strict=True):
        rate(item, reviewer, a)
        rate(item, other_reviewer, b)
    return four_items


def test_two_raters_match_hand_computed_values(policy, two_raters):
    result = quality.policy_agreement(policy=policy)

    # Cohen: po = 3/4; pe = 1/2 * 1/4 + 1/2 * 3/4 = 1/2; kappa = (3/4 - 1/2) / (1/2) = 1/2.
    [pair] = result.pairs
    assert (pair.rater_a, pair.rater_b) == ("oscar", "rita")
    assert pair.agreement.value == pytest.approx(0.5)
    assert pair.agreement.n_items == 4
    # Fleiss: P-bar = 3/4; Pe = (3/8)^2 + (5/8)^2 = 34/64; kappa = (3/4 - 34/64) / (30/64) = 7/15.
    assert result.measures[quality.FLEISS].value == pytest.approx(7 / 15)
    # Krippendorff nominal: o_VN + o_NV = 2, n_V = 3, n_N = 5, n = 8;
    # alpha = 1 - (n - 1) * 2 / (2 * 3 * 5) = 1 - 14/30 = 8/15.
    alpha = result.measures[quality.ALPHA_NOMINAL]
    assert alpha.value == pytest.approx(8 / 15)
    assert (alpha.n_items, alpha.n_raters) == (4, 2)
    assert result.n_ratings == 8


def test_ordinal_alpha_only_for_ordinal_policies(policy, two_raters):
    assert quality.ALPHA_ORDINAL not in quality.policy_agreement(policy=policy).measures

    policy.ordinal = True
    policy.save()
    ordinal = quality.policy_agreement(policy=policy).measures[quality.ALPHA_ORDINAL]

    assert ordinal.defined
    assert ordinal.reason == "Krippendorff's alpha, ordinal"


def test_fewer_than_two_raters_is_not_defined_never_a_number(policy, four_items, reviewer):
    for item in four_items:
        rate(item, reviewer, V if item.pk % 2 else N)

    result = quality.policy_agreement(policy=policy)

    for name in (quality.FLEISS, quality.ALPHA_NOMINAL):
        agreement = result.measures[name]
        assert agreement.defined is False
        assert agreement.value is None
        assert agreement.reason.startswith("not defined:")
    assert result.pairs == []


def test_no_decisions_at_all_is_not_defined(policy, queue):
    result = quality.policy_agreement(policy=policy)

    assert all(not agreement.defined for agreement in result.measures.values())
    assert result.n_ratings == 0


def test_fleiss_is_not_defined_when_raters_per_item_vary(policy, queue, reviewer, other_reviewer):
    third = UserFactory(username="tina")
    first, second = make_items(queue, 2)
    for user, value in [(reviewer, V), (other_reviewer, V), (third, N)]:
        rate(first, user, value)
    rate(second, reviewer, N)
    rate(second, other_reviewer, N)

    result = quality.policy_agreement(policy=policy)

    fleiss = result.measures[quality.FLEISS]
    assert not fleiss.defined
    assert fleiss.reason.startswith("not defined: raters per item vary")
    assert result.measures[quality.ALPHA_NOMINAL].defined


def test_an_item_with_one_rating_does_not_make_fleiss_undefined(policy, two_raters, queue, senior):
    [lonely] = make_items(queue, 1, prefix="lonely")
    rate(lonely, senior, V)

    assert quality.policy_agreement(policy=policy).measures[quality.FLEISS].value == pytest.approx(
        7 / 15
    )


def test_pairs_need_two_shared_items(policy, two_raters, senior):
    rate(two_raters[0], senior, V)

    pairs = quality.policy_agreement(policy=policy).pairs

    assert [(pair.rater_a, pair.rater_b) for pair in pairs] == [("oscar", "rita")]


def test_anonymous_coders_count_per_item_but_form_no_pairs(policy, four_items):
    for item, values in zip(four_items, [[V, V], [V, N], [N, N], [N, N]], strict=True):
        for position, value in enumerate(values, start=1):
            rate(item, None, value, kind=DecisionKind.IMPORT, anonymous=f"davidson:{position}")

    result = quality.policy_agreement(policy=policy)

    assert result.pairs == []
    assert result.measures[quality.ALPHA_NOMINAL].value == pytest.approx(8 / 15)


def test_undone_adjudication_and_golden_decisions_do_not_count(
    policy, two_raters, senior, reviewer, other_reviewer, queue
):
    before = quality.policy_agreement(policy=policy).measures[quality.ALPHA_NOMINAL].value
    undone = rate(two_raters[0], senior, N)
    Retraction.objects.create(decision=undone)
    rate(two_raters[1], senior, V, kind=DecisionKind.ADJUDICATION)
    [honeypot] = make_items(queue, 1, prefix="gold")
    GoldenItem.objects.create(item=honeypot, expected={"hate": V})
    rate(honeypot, reviewer, V)
    rate(honeypot, other_reviewer, N)

    assert quality.policy_agreement(policy=policy).measures[
        quality.ALPHA_NOMINAL
    ].value == pytest.approx(before)


def test_a_rater_who_decided_twice_counts_once_with_the_latest(policy, two_raters, reviewer):
    rate(two_raters[1], reviewer, N)  # now agrees with Oscar everywhere but item 0... and item 1

    [pair] = quality.policy_agreement(policy=policy).pairs

    assert pair.agreement.value == pytest.approx(1.0)


def test_a_reopened_round_is_a_new_unit(policy, two_raters, reviewer, other_reviewer):
    rate(two_raters[0], reviewer, N, review_round=1)
    rate(two_raters[0], other_reviewer, N, review_round=1)

    assert quality.policy_agreement(policy=policy).measures[quality.ALPHA_NOMINAL].n_items == 5


def test_period_and_queue_filters(policy, two_raters, reviewer, other_reviewer):
    old = timezone.now() - timedelta(days=60)
    Decision.objects.filter(item=two_raters[1]).update(created_at=old)
    other_queue = make_queue(slug="other", policies=[policy], reviewers=[reviewer])
    [elsewhere] = make_items(other_queue, 1, prefix="else")
    rate(elsewhere, reviewer, V)
    rate(elsewhere, other_reviewer, V)

    recent = quality.policy_agreement(policy=policy, since=timezone.now() - timedelta(days=30))
    main_only = quality.policy_agreement(policy=policy, queue=two_raters[0].queue)

    assert recent.measures[quality.ALPHA_NOMINAL].n_items == 4  # 3 of main + 1 elsewhere
    assert main_only.measures[quality.ALPHA_NOMINAL].n_items == 4
    assert main_only.n_ratings == 8


def test_measure_selection(policy, two_raters):
    result = quality.policy_agreement(policy=policy, measures=[quality.COHEN])

    assert result.measures == {}
    assert len(result.pairs) == 1


def test_verdicts_outside_the_label_set_are_left_out(policy, two_raters, senior):
    rate(two_raters[0], senior, "retired_label")

    assert quality.policy_agreement(policy=policy).n_ratings == 8


# --- over time -----------------------------------------------------------------------------------


def test_agreement_per_week_puts_an_item_in_the_week_of_its_last_rating(
    policy, two_raters, reviewer
):
    monday = datetime(2026, 11, 2, 12, tzinfo=UTC)
    Decision.objects.update(created_at=monday + timedelta(days=8))
    Decision.objects.filter(item__in=two_raters[:2], reviewer=reviewer).update(created_at=monday)

    weeks = quality.agreement_by_week(
        policy=policy, since=monday - timedelta(days=7), until=monday + timedelta(days=13)
    )

    assert [entry.week.isoformat() for entry in weeks] == ["2026-10-26", "2026-11-02", "2026-11-09"]
    assert [entry.agreement.defined for entry in weeks] == [False, False, True]
    assert weeks[2].agreement.n_items == 4
    assert weeks[2].agreement.value == pytest.approx(8 / 15)


def test_accuracy_trends_all_time_recent_and_weekly(policy, queue, reviewer, senior):
    items = make_items(queue, 4, prefix="gold")
    long_ago = timezone.now() - timedelta(days=90)
    for item in items:
        golden.golden_add(item=item, expected={"hate": V}, actor=senior)
    GoldenItem.objects.update(created_at=long_ago)
    old = [rate(item, reviewer, V) for item in items[:2]]
    Decision.objects.filter(pk__in=[d.pk for d in old]).update(
        created_at=long_ago + timedelta(days=1)
    )
    rate(items[2], reviewer, V)
    rate(items[3], reviewer, N)

    [trend] = quality.accuracy_trends(policy=policy, weeks=4)

    assert (trend.reviewer, trend.policy) == ("rita", "hate")
    assert (trend.all_time.correct, trend.all_time.answers) == (3, 4)
    assert trend.last_30_days is not None
    assert trend.last_30_days.value == pytest.approx(0.5)
    assert len(trend.weeks) == 4
    assert trend.weeks[-1][1] is not None and trend.weeks[-1][1].answers == 2
    assert trend.open_alert is None


# --- backlog and label errors --------------------------------------------------------------------


def test_adjudication_backlog_counts_per_queue(queue):
    items = make_items(queue, 4)
    Item.objects.filter(pk__in=[items[0].pk, items[1].pk]).update(status=ItemStatus.ADJUDICATION)
    Item.objects.filter(pk=items[2].pk).update(status=ItemStatus.ESCALATED)

    [row] = quality.adjudication_backlog_counts()

    assert (row["queue"], row["adjudication"], row["escalated"]) == (queue, 2, 1)


def test_suspected_label_errors_by_reason(queue):
    items = make_items(queue, 4)
    Item.objects.filter(pk__in=[items[0].pk, items[1].pk]).update(
        reopen_reason="suspected label error"
    )
    Item.objects.filter(pk=items[1].pk).update(status=ItemStatus.RESOLVED)
    Item.objects.filter(pk=items[2].pk).update(reopen_reason="policy v2")

    rows = quality.suspected_label_errors()

    assert [(row["reason"], row["count"], row["open"]) for row in rows] == [
        ("policy v2", 1, 1),
        ("suspected label error", 2, 1),
    ]


def test_a_second_policy_is_measured_apart(queue, reviewer, other_reviewer):
    spam = PolicyFactory(slug="spam")
    spam_queue = make_queue(slug="spamq", policies=[spam], reviewers=[reviewer])
    first, second = make_items(spam_queue, 2, prefix="s")
    for item in (first, second):
        rate(item, reviewer, V, slug="spam")
        rate(item, other_reviewer, V, slug="spam")

    result = quality.policy_agreement(policy=spam)

    assert result.n_ratings == 4
    # Everyone chose one value: no expected disagreement, so no value.
    assert not result.measures[quality.ALPHA_NOMINAL].defined
