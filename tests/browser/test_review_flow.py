"""A reviewer logs in and reviews by keyboard only; each next item appears without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from labeling import services
from labeling.models import Decision, Label, LabelSource, Roles
from tests.factories import PolicyFactory, UserFactory, make_queue

pytestmark = [pytest.mark.browser]

HOSTILE_TEXT = "hello <script>window.__pwned = true</script><img src=x onerror=window.__pwned=1>"
PASSWORD = "pw-for-tests-1"


@pytest.fixture
def review_setup(transactional_db):
    reviewer = UserFactory(username="kim", roles=[Roles.REVIEWER])
    policy = PolicyFactory(
        slug="hate", name="Hate speech", guidelines="## Hate speech\n\n**Attacks** on people."
    )
    queue = make_queue(slug="main", policies=[policy], reviewers=[reviewer])
    # Highest priority first: a, b, c, d.
    services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(external_id="a", text=HOSTILE_TEXT, priority=4.0),
            services.ItemInput(external_id="b", text="second item", priority=3.0),
            services.ItemInput(external_id="c", text="third item", priority=2.0),
            services.ItemInput(external_id="d", text="fourth item", priority=1.0),
        ],
        source="test",
    )
    return reviewer, queue


def consensus_labels(database_lock) -> dict[str, str]:
    # The live server shares the test's database connection; wait for its request to finish.
    with database_lock:
        rows = Label.objects.select_related("item").filter(source=LabelSource.CONSENSUS)
        return {label.item.external_id: label.value for label in rows}


def log_in(page, username):
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))


def test_a_reviewer_reviews_three_items_by_keyboard_without_reloads(
    page, review_setup, database_lock
):
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    log_in(page, "kim")
    page.get_by_role("link", name=re.compile(r"^Review")).click()
    expect(page).to_have_url(re.compile(r"/queues/main/review/$"))
    review_url = page.url
    external_id = page.locator("#item-external-id")
    expect(external_id).to_have_text("a")

    # Hostile item text is shown as text and never runs.
    expect(page.locator("#item-text")).to_have_text(HOSTILE_TEXT)
    assert page.locator("#item-text script, #item-text img").count() == 0
    assert page.evaluate("window.__pwned") is None
    # Guidelines are rendered Markdown.
    expect(page.locator(".guidelines-body strong")).to_have_text("Attacks")

    page_load_id = page.evaluate("window.reviewtool.pageLoadId")
    page.evaluate("window.__sameDocument = true")
    loads: list[str] = []
    page.on("load", lambda _: loads.append(page.url))

    for expected, key, verdict, following in [
        ("a", "1", "violating", "b"),
        ("b", "3", "not_violating", "c"),
        ("c", "2", "borderline", "d"),
    ]:
        expect(external_id).to_have_text(expected)
        page.keyboard.press(key)
        expect(page.locator(f'input[name="verdict-hate"][value="{verdict}"]')).to_be_checked()
        page.keyboard.press("Enter")
        expect(external_id).to_have_text(following)
        # The next item came without a navigation: same URL, same document, no load event.
        assert page.url == review_url
        assert page.evaluate("window.__sameDocument") is True
        assert page.evaluate("window.reviewtool.pageLoadId") == page_load_id
        assert loads == []
    # Each new item starts with no verdict chosen.
    expect(page.locator('input[name="verdict-hate"]:checked')).to_have_count(0)

    assert consensus_labels(database_lock) == {
        "a": "violating",
        "b": "not_violating",
        "c": "borderline",
    }
    with database_lock:
        decisions = list(Decision.objects.filter(reviewer__username="kim"))
    assert len(decisions) == 3
    assert all(d.idempotency_key and d.time_on_item_ms is not None for d in decisions)

    # The same labels through the API, with the browser's session.
    api_labels = page.evaluate(
        """async () => {
            const response = await fetch("/api/v1/labels/?queue=main");
            const body = await response.json();
            return {status: response.status, rows: body.results.map((row) => row.value).sort()};
        }"""
    )
    assert api_labels == {"status": 200, "rows": ["borderline", "not_violating", "violating"]}

    # The recent-decisions panel lists them, newest first.
    expect(page.locator("#recent .recent-row").first).to_contain_text("test:c")
    expect(page.locator("#recent .recent-row")).to_have_count(3)

    # "?" opens the shortcuts overlay; Escape closes it.
    page.keyboard.press("?")
    overlay = page.locator("#shortcuts")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("Keyboard shortcuts")
    page.keyboard.press("Escape")
    expect(overlay).to_be_hidden()

    # S skips the last item; the queue is then empty, still without a reload.
    page.keyboard.press("s")
    expect(page.get_by_role("heading", name="Queue is empty")).to_be_visible()
    assert loads == []
    assert csp_violations == []


def test_undo_brings_the_item_back_and_removes_its_label(page, review_setup, database_lock):
    log_in(page, "kim")
    page.goto("/queues/main/review/")
    external_id = page.locator("#item-external-id")
    expect(external_id).to_have_text("a")

    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(external_id).to_have_text("b")
    assert consensus_labels(database_lock) == {"a": "borderline"}

    page.get_by_role("button", name="Undo decision on test:a").click()
    expect(external_id).to_have_text("a")
    expect(page.locator("#recent .recent-row").first).to_contain_text("undone")
    assert consensus_labels(database_lock) == {}

    # Decide again by keyboard; then the item that was pushed back comes next.
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(external_id).to_have_text("b")
    assert consensus_labels(database_lock) == {"a": "violating"}


def test_the_note_takes_typed_keys_and_escape_leaves_it(page, review_setup, database_lock):
    log_in(page, "kim")
    page.goto("/queues/main/review/")
    expect(page.locator("#item-external-id")).to_have_text("a")

    page.keyboard.press("n")
    expect(page.locator("#note")).to_be_focused()
    page.keyboard.type("see 1 Sexy E")  # digits and shortcut letters are just text here
    expect(page.locator("#note")).to_have_value("see 1 Sexy E")
    expect(page.locator('input[name="verdict-hate"]:checked')).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.locator("#note")).not_to_be_focused()

    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(page.locator("#item-external-id")).to_have_text("b")
    with database_lock:
        assert Decision.objects.get(item__external_id="a").note == "see 1 Sexy E"


def test_a_submit_whose_answer_is_lost_is_retried_without_a_second_decision(
    page, review_setup, database_lock
):
    log_in(page, "kim")
    lost: list[str] = []

    def lose_the_first_answer(route):
        if route.request.method == "POST" and not lost:
            # The server stores the decision, but the browser sees the connection drop.
            answer = route.fetch()
            lost.append(str(answer.status))
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/decisions/", lose_the_first_answer)
    page.goto("/queues/main/review/")
    expect(page.locator("#item-external-id")).to_have_text("a")

    page.keyboard.press("1")
    page.keyboard.press("Enter")

    expect(page.locator("#item-external-id")).to_have_text("b")
    # Only a 200/201 reads "Saved": the retry carried the same idempotency key, so the server
    # answered with the stored decision instead of refusing a finished lease (409).
    expect(page.locator("#status")).to_have_text("Saved test:a.")
    assert lost == ["201"]
    with database_lock:
        decisions = list(Decision.objects.select_related("item").filter(reviewer__username="kim"))
    assert [(d.item.external_id, d.verdicts) for d in decisions] == [("a", {"hate": "violating"})]


def test_several_policies_are_decided_group_by_group(page, transactional_db, database_lock):
    reviewer = UserFactory(username="kim", roles=[Roles.REVIEWER])
    hate = PolicyFactory(slug="hate", name="Hate speech")
    spam = PolicyFactory(slug="spam", name="Spam", labels=["spam", "not_spam"])
    queue = make_queue(slug="multi", policies=[hate, spam], reviewers=[reviewer])
    services.items_ingest(
        queue=queue,
        items=[services.ItemInput(external_id=name, text=name) for name in ("m1", "m2")],
        source="test",
    )
    log_in(page, "kim")
    page.goto("/queues/multi/review/")
    expect(page.locator("#item-external-id")).to_have_text("m1")
    current = page.locator(".policy-group.current")
    expect(current).to_have_attribute("data-policy", "hate")

    page.keyboard.press("2")  # hate: borderline, then on to spam
    expect(current).to_have_attribute("data-policy", "spam")
    page.keyboard.press("ArrowUp")
    expect(current).to_have_attribute("data-policy", "hate")
    page.keyboard.press("3")  # hate: not_violating
    expect(current).to_have_attribute("data-policy", "spam")

    page.keyboard.press("Enter")  # spam has no verdict yet: nothing is sent
    expect(page.locator("#status")).to_have_text("Choose a verdict for Spam first.")
    expect(page.locator("#item-external-id")).to_have_text("m1")

    page.keyboard.press("1")  # spam: spam
    page.keyboard.press("Enter")
    expect(page.locator("#item-external-id")).to_have_text("m2")
    expect(current).to_have_attribute("data-policy", "hate")
    with database_lock:
        verdicts = [d.verdicts for d in Decision.objects.filter(reviewer__username="kim")]
    assert verdicts == [{"hate": "not_violating", "spam": "spam"}]
