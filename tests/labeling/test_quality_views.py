"""The label quality page: who may see it, its security headers, escaping, and acknowledging
alerts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labeling import golden, services
from labeling.models import AuditEvent, Item, ItemStatus, QualityAlert, Queue
from tests.factories import PolicyFactory, UserFactory, make_items, make_queue

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def page(client, user):
    client.force_login(user)
    return client.get(reverse("quality"))


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("reviewer", 403),
        ("senior", 403),
        ("ml_engineer", 403),
        ("outsider", 403),
        ("lead", 200),
        ("admin_user", 200),
    ],
)
def test_only_leads_and_admins_see_the_quality_page(client, request, persona, code, queue):
    assert page(client, request.getfixturevalue(persona)).status_code == code


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("quality"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_page_has_an_enforcing_csp_and_no_inline_script_or_style(client, lead, queue):
    response = page(client, lead)

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    html = response.content.decode()
    assert "<script" not in html
    assert "style=" not in html
    assert "<svg" in html


def test_the_nav_links_the_page_for_leads_only(client, lead, reviewer, queue):
    client.force_login(reviewer)
    assert reverse("quality") not in client.get(reverse("queue-list")).content.decode()
    client.force_login(lead)
    assert reverse("quality") in client.get(reverse("queue-list")).content.decode()


def test_hostile_text_is_escaped(client, lead, reviewer, other_reviewer, senior):
    evil_policy = PolicyFactory(slug="evil", name=f"Policy {SCRIPT}", labels=["a", IMG])
    evil_user = UserFactory(username="x<b>onmouseover=alert(3)")
    queue = make_queue(
        slug="evilq",
        policies=[evil_policy],
        reviewers=[reviewer, other_reviewer, evil_user],
        overlap=2,
    )
    Queue.objects.filter(pk=queue.pk).update(name=f"Queue {IMG}")
    items = make_items(queue, 3)
    for user in (reviewer, evil_user):
        for _ in range(2):
            lease = services.lease_next(queue=queue, reviewer=user)
            services.decision_submit(token=lease.token, reviewer=user, verdicts={"evil": IMG})
    Item.objects.filter(pk=items[2].pk).update(
        reopen_reason=f"reason {SCRIPT}", status=ItemStatus.ADJUDICATION
    )
    QualityAlert.objects.create(
        reviewer=evil_user, policy=evil_policy, accuracy=0.1, threshold=0.8, golden_answers=5
    )

    html = page(client, lead).content.decode()

    for fragment in (SCRIPT, IMG, "<script>", "<img src=x", "<b>onmouseover"):
        assert fragment not in html
    assert "&lt;script&gt;" in html
    assert "x&lt;b&gt;onmouseover=alert(3)" in html


def test_the_page_shows_alerts_backlog_and_label_errors(client, lead, queue, reviewer, policy):
    items = make_items(queue, 3)
    Item.objects.filter(pk=items[0].pk).update(status=ItemStatus.ESCALATED)
    Item.objects.filter(pk=items[1].pk).update(reopen_reason="suspected label error")
    alert = QualityAlert.objects.create(
        reviewer=reviewer, policy=policy, accuracy=0.4, threshold=0.8, golden_answers=5
    )

    html = page(client, lead).content.decode()

    assert f'id="alert-{alert.pk}"' in html
    assert reverse("quality-alert-acknowledge", args=[alert.pk]) in html
    assert reverse("adjudication") in html
    assert "suspected label error" in html
    assert reverse("review", args=["main"]) in html


def test_a_lead_acknowledges_an_alert(client, lead, reviewer, policy):
    alert = QualityAlert.objects.create(
        reviewer=reviewer, policy=policy, accuracy=0.4, threshold=0.8, golden_answers=5
    )
    client.force_login(lead)

    response = client.post(reverse("quality-alert-acknowledge", args=[alert.pk]))

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    assert AuditEvent.objects.filter(action="quality.alert.acknowledge", actor=lead).exists()
    assert f'id="alert-{alert.pk}"' not in client.get(reverse("quality")).content.decode()


def test_a_reviewer_cannot_acknowledge_an_alert(client, reviewer, policy):
    alert = QualityAlert.objects.create(
        reviewer=reviewer, policy=policy, accuracy=0.4, threshold=0.8, golden_answers=5
    )
    client.force_login(reviewer)

    assert client.post(reverse("quality-alert-acknowledge", args=[alert.pk])).status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_the_review_page_never_mentions_golden_items(client, reviewer, senior, policy):
    queue = make_queue(slug="g", policies=[policy], reviewers=[reviewer])
    [item] = make_items(queue, 1)
    golden.golden_add(item=item, expected={"hate": "violating"}, actor=senior)
    client.force_login(reviewer)

    html = client.get(reverse("review", args=["g"])).content.decode().lower()

    assert "golden" not in html
    assert "honeypot" not in html


def test_a_bad_period_falls_back_to_the_default(client, lead, queue):
    client.force_login(lead)
    response = client.get(reverse("quality"), {"since": "not-a-date", "until": "2026-13-45"})
    assert response.status_code == 200
