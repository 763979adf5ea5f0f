"""The server-rendered pages: access rules, security headers and escaping of hostile content."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from labeling import services
from labeling.models import ItemStatus, Label, LabelSource, Roles
from tests.factories import PolicyFactory, UserFactory, make_items, make_queue

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
HOSTILE_FRAGMENTS = [SCRIPT, IMG, "<script>", "<img src=x"]


def login(client, user):
    client.force_login(user)
    return client


def hostile_item(queue, *, external_id="evil"):
    result = services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(
                external_id=external_id,
                text=f"buy now {SCRIPT} {IMG}",
                metadata={"author": SCRIPT, IMG: "key is hostile too"},
            )
        ],
        source="test",
    )
    return result.created[0]


def decide(queue, user, verdict, *, note=""):
    lease = services.lease_next(queue=queue, reviewer=user)
    assert lease is not None
    assert lease.token is not None
    return services.decision_submit(
        token=lease.token, reviewer=user, verdicts={"hate": verdict}, note=note
    )


@pytest.fixture
def split_queue(policy, reviewer, other_reviewer, senior):
    """Two reviewers must agree; their disagreement sends the item to adjudication."""
    return make_queue(
        slug="pair", policies=[policy], reviewers=[reviewer, other_reviewer, senior], overlap=2
    )


@pytest.fixture
def disputed_item(split_queue, reviewer, other_reviewer):
    item = hostile_item(split_queue)
    decide(split_queue, reviewer, "violating", note=f"note {SCRIPT}")
    decide(split_queue, other_reviewer, "not_violating", note=f"other {IMG}")
    item.refresh_from_db()
    assert item.status == ItemStatus.ADJUDICATION
    return item


def assert_no_raw_hostile_markup(html: str) -> None:
    for fragment in HOSTILE_FRAGMENTS:
        assert fragment not in html


# --- login -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        reverse("queue-list"),
        reverse("review", args=["main"]),
        reverse("adjudication"),
    ],
)
def test_pages_redirect_anonymous_users_to_login(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_adjudicate_post_needs_login(client, disputed_item):
    response = client.post(reverse("adjudicate-item", args=[disputed_item.pk]), {})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Label.objects.filter(item=disputed_item).exists()


def test_login_form_logs_in_and_lands_on_queue_list(client, reviewer):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content

    response = client.post(
        reverse("login"), {"username": "rita", "password": "pw-for-tests-1"}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("queue-list")
    assert response.context["user"] == reviewer


def test_logout_is_a_post_that_returns_to_login(client, reviewer):
    login(client, reviewer)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("queue-list")).status_code == 302


# --- queue list ------------------------------------------------------------------------------


def test_queue_list_shows_only_the_reviewers_queues(client, reviewer, queue):
    make_queue(slug="secret-queue", policies=[PolicyFactory(slug="spam")], reviewers=[])
    make_items(queue, 3)
    login(client, reviewer)

    response = client.get(reverse("queue-list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("review", args=["main"]) in html
    assert "secret-queue" not in html
    assert [q.slug for q in response.context["queues"]] == ["main"]
    assert response.context["queues"][0].pending_count == 3


def test_queue_list_links_adjudication_for_seniors_only(client, reviewer, senior, queue):
    login(client, reviewer)
    assert reverse("adjudication") not in client.get(reverse("queue-list")).content.decode()

    login(client, senior)
    assert reverse("adjudication") in client.get(reverse("queue-list")).content.decode()


def test_staff_see_every_queue(client, ml_engineer, queue):
    login(client, ml_engineer)

    response = client.get(reverse("queue-list"))

    assert reverse("review", args=["main"]) in response.content.decode()


# --- review page -----------------------------------------------------------------------------


def test_review_page_renders_for_a_member(client, reviewer, queue):
    login(client, reviewer)

    response = client.get(reverse("review", args=["main"]))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-queue="main"' in html
    assert 'name="verdict-hate" value="violating"' in html
    assert "js/review.js" in html
    # Guidelines are Markdown rendered to HTML ("# Rules" in the factory).
    assert "<h1>Rules</h1>" in html
    # The script reads the CSRF token from the cookie.
    assert "csrftoken" in response.cookies


def test_review_page_is_404_for_a_non_member(client, queue):
    stranger = UserFactory(username="nina", roles=[Roles.REVIEWER])
    login(client, stranger)

    assert client.get(reverse("review", args=["main"])).status_code == 404


def test_review_page_is_404_for_an_unknown_queue(client, reviewer, queue):
    login(client, reviewer)

    assert client.get(reverse("review", args=["nope"])).status_code == 404


def test_review_page_sanitizes_guidelines(client, reviewer, queue, policy):
    services.policy_update(
        policy=policy, guidelines=f"**Be kind.** {SCRIPT}\n\n{IMG}\n\n[x](javascript:alert(3))"
    )
    login(client, reviewer)

    html = client.get(reverse("review", args=["main"])).content.decode()

    assert "<strong>Be kind.</strong>" in html
    assert_no_raw_hostile_markup(html)
    assert "javascript:" not in html


# --- security headers ------------------------------------------------------------------------


def page_urls():
    return [
        ("anonymous", reverse("login")),
        ("senior", reverse("queue-list")),
        ("senior", reverse("review", args=["main"])),
        ("senior", reverse("adjudication")),
    ]


def test_every_page_sends_a_strict_content_security_policy(client, senior, queue):
    for who, url in page_urls():
        if who == "senior":
            login(client, senior)
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy, url
        assert "style-src 'self'" in policy, url
        assert "unsafe-inline" not in policy, url
        assert "unsafe-eval" not in policy, url


def test_pages_carry_no_inline_script_or_style(client, senior, queue, disputed_item):
    for who, url in page_urls():
        if who == "senior":
            login(client, senior)
        html = client.get(url).content.decode()
        assert "<script>" not in html, url
        assert " style=" not in html, url
        assert " onclick=" not in html, url
        assert "<style" not in html, url


# --- escaping of hostile content -------------------------------------------------------------


def test_adjudication_page_escapes_item_text_metadata_and_notes(client, senior, disputed_item):
    login(client, senior)

    response = client.get(reverse("adjudication"))

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_raw_hostile_markup(html)
    assert "buy now &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "note &lt;script&gt;" in html
    assert "other &lt;img" in html


def test_no_page_shows_hostile_item_content_unescaped(
    client, reviewer, senior, queue, disputed_item
):
    hostile_item(queue, external_id="evil-2")
    for user in (reviewer, senior):
        login(client, user)
        for url in (reverse("queue-list"), reverse("review", args=["main"])):
            assert_no_raw_hostile_markup(client.get(url).content.decode())
    login(client, senior)
    assert_no_raw_hostile_markup(client.get(reverse("adjudication")).content.decode())


# --- adjudication ----------------------------------------------------------------------------


def test_adjudication_page_is_forbidden_to_a_plain_reviewer(client, reviewer, disputed_item):
    login(client, reviewer)

    assert client.get(reverse("adjudication")).status_code == 403
    response = client.post(
        reverse("adjudicate-item", args=[disputed_item.pk]), {"verdict-hate": "violating"}
    )
    assert response.status_code == 403
    assert not Label.objects.filter(item=disputed_item).exists()


@pytest.mark.parametrize("persona", ["senior", "lead", "admin_user"])
def test_adjudication_page_opens_for_adjudicators(client, request, persona, disputed_item):
    login(client, request.getfixturevalue(persona))

    response = client.get(reverse("adjudication"))

    assert response.status_code == 200
    assert list(response.context["items"]) == [disputed_item]


def test_adjudication_page_lists_the_decisions(client, senior, disputed_item):
    login(client, senior)

    html = client.get(reverse("adjudication")).content.decode()

    assert "rita" in html
    assert "oscar" in html
    assert reverse("adjudicate-item", args=[disputed_item.pk]) in html


def test_adjudicate_form_creates_the_label(client, senior, disputed_item):
    login(client, senior)

    response = client.post(
        reverse("adjudicate-item", args=[disputed_item.pk]),
        {"verdict-hate": "borderline", "note": "context matters"},
        follow=True,
    )

    assert response.redirect_chain == [(reverse("adjudication"), 302)]
    label = Label.objects.get(item=disputed_item)
    assert label.value == "borderline"
    assert label.source == LabelSource.ADJUDICATION
    assert label.decided_by == senior
    disputed_item.refresh_from_db()
    assert disputed_item.status == ItemStatus.RESOLVED
    assert "adjudicated" in response.content.decode()
    assert list(response.context["items"]) == []


def test_adjudicate_form_shows_the_service_error(client, senior, disputed_item):
    login(client, senior)

    response = client.post(
        reverse("adjudicate-item", args=[disputed_item.pk]),
        {"verdict-hate": "not-a-label"},
        follow=True,
    )

    assert not Label.objects.filter(item=disputed_item).exists()
    assert "Invalid verdicts." in response.content.decode()


def test_adjudicate_form_refuses_an_item_not_waiting(client, senior, queue):
    item = make_items(queue, 1)[0]
    login(client, senior)

    response = client.post(
        reverse("adjudicate-item", args=[item.pk]), {"verdict-hate": "violating"}, follow=True
    )

    assert "not waiting for adjudication" in response.content.decode()
    assert not Label.objects.filter(item=item).exists()


def test_adjudicate_form_is_404_outside_the_users_queues(client, senior, disputed_item):
    # A senior reviewer adjudicates only in the queues they belong to.
    disputed_item.queue.reviewers.remove(senior)
    login(client, senior)

    response = client.post(
        reverse("adjudicate-item", args=[disputed_item.pk]), {"verdict-hate": "violating"}
    )

    assert response.status_code == 404


def test_adjudicate_form_needs_the_csrf_token(senior, disputed_item):
    client = Client(enforce_csrf_checks=True)
    login(client, senior)

    response = client.post(
        reverse("adjudicate-item", args=[disputed_item.pk]), {"verdict-hate": "violating"}
    )

    assert response.status_code == 403
    assert not Label.objects.filter(item=disputed_item).exists()
