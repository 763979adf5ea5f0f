"""Labels from earlier policy versions, the champion's disagreements with them, and the
policy-versions page that queues them for relabelling (activelearning/relabel*.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from activelearning import relabel, services
from activelearning.models import RunStatus, RunTrigger
from labeling import policy_versions
from labeling import services as labeling_services
from labeling.models import AuditEvent, Item, ItemStatus, Label, LabelSource
from tests.factories import PolicyFactory, make_queue

pytestmark = pytest.mark.django_db

SPAM_WORDS = ["win cash now", "free prize claim", "click this link to win", "cheap pills offer"]
HAM_WORDS = ["see you at lunch", "meeting moved to three", "thanks for the notes", "call mum"]
# Ham messages whose labels are changed to "spam" after the champion was trained.
RELABELLED = ["h2", "h7", "h11"]


@pytest.fixture(autouse=True)
def _model_dir(settings, tmp_path):
    settings.REVIEWTOOL_MODEL_DIR = tmp_path / "models"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def spam_policy(db):
    return PolicyFactory(slug="spam", labels=["spam", "ham"], positive_labels=["spam"])


@pytest.fixture
def sms_queue(spam_policy, reviewer):
    return make_queue(slug="sms", policies=[spam_policy], reviewers=[reviewer])


def _ingest(queue, prefix, texts):
    return labeling_services.items_ingest(
        queue=queue,
        items=[
            labeling_services.ItemInput(external_id=f"{prefix}{i}", text=text)
            for i, text in enumerate(texts)
        ],
        source="test",
    ).created


def _label(policy, items, value):
    for item in items:
        labeling_services.label_store(
            item=item, policy=policy, value=value, source=LabelSource.IMPORT, agreement=1.0
        )
    Item.objects.filter(pk__in=[item.pk for item in items]).update(status=ItemStatus.RESOLVED)


@pytest.fixture
def versioned(spam_policy, sms_queue):
    """30 labels under v1 and a champion trained on them; three labels then changed (still v1);
    the guidelines change (v2); one item labelled under v2."""
    spam = _ingest(sms_queue, "s", [f"{SPAM_WORDS[i % 4]} {i}" for i in range(15)])
    ham = _ingest(sms_queue, "h", [f"{HAM_WORDS[i % 4]} {i}" for i in range(15)])
    _label(spam_policy, spam, "spam")
    _label(spam_policy, ham, "ham")
    run = services.training_run_create(policy=spam_policy, trigger=RunTrigger.COMMAND)
    services.training_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.log
    _label(spam_policy, [item for item in ham if item.external_id in RELABELLED], "spam")
    policy = labeling_services.policy_update(
        policy=spam_policy, guidelines="# Rules\n\nAdverts for pills are spam; so is *bulk* mail."
    )
    (fresh,) = _ingest(sms_queue, "n", ["win a free prize today"])
    _label(policy, [fresh], "spam")
    return policy


def _ids(*external_ids):
    return set(Item.objects.filter(external_id__in=external_ids).values_list("pk", flat=True))


def test_labels_per_version_and_the_outdated_ones(versioned):
    assert versioned.version == 2
    counts = {
        entry.version: entry.labels
        for entry in policy_versions.labels_per_version(policy=versioned)
    }
    assert counts == {2: 1, 1: 30}
    assert policy_versions.outdated_labels(policy=versioned).count() == 30


def test_the_champion_disagrees_with_the_changed_labels(versioned):
    candidates = relabel.relabel_candidates(policy=versioned)
    assert (candidates.policy_version, candidates.outdated, candidates.checked) == (2, 30, 30)
    assert candidates.model_version == 1
    assert set(candidates.disagreements) == _ids(*RELABELLED)


def test_the_check_is_bounded(versioned):
    candidates = relabel.relabel_candidates(policy=versioned, limit=10)
    assert (candidates.outdated, candidates.checked) == (30, 10)


def test_without_a_champion_nothing_is_checked(spam_policy, sms_queue):
    items = _ingest(sms_queue, "s", ["win cash now"])
    _label(spam_policy, items, "spam")
    policy = labeling_services.policy_update(policy=spam_policy, guidelines="new")
    candidates = relabel.relabel_candidates(policy=policy)
    assert (candidates.outdated, candidates.model_version, candidates.disagreements) == (
        1,
        None,
        [],
    )


def test_queueing_reopens_only_resolved_outdated_items(versioned, lead):
    fresh = Item.objects.get(external_id="n0")
    pending = Item.objects.get(external_id="s0")
    Item.objects.filter(pk=pending.pk).update(status=ItemStatus.IN_REVIEW)
    chosen = [*_ids("s1", "h1"), fresh.pk, pending.pk]
    result = policy_versions.outdated_labels_reopen(policy=versioned, item_ids=chosen, actor=lead)
    assert set(result.reopened) == _ids("s1", "h1")
    assert set(result.skipped) == {fresh.pk, pending.pk}
    assert set(Item.objects.filter(reopen_reason="policy v2").values_list("pk", flat=True)) == (
        _ids("s1", "h1")
    )


# --- the page ------------------------------------------------------------------------------------


def _url(policy):
    return reverse("policy-versions", kwargs={"slug": policy.slug})


def test_the_page_shows_the_outdated_labels_and_the_disagreements(client, versioned, lead):
    client.force_login(lead)
    response = client.get(_url(versioned))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Current version: v2" in page
    assert '<strong id="outdated-count">30</strong>' in page
    assert '<strong id="disagreement-count">3</strong>' in page
    assert "Queue 3 for relabelling" in page


def test_the_button_reopens_the_disagreements_as_policy_v2(client, versioned, lead):
    client.force_login(lead)
    response = client.post(_url(versioned))
    assert response.status_code == 302
    reopened = Item.objects.filter(reopen_reason="policy v2")
    assert set(reopened.values_list("pk", flat=True)) == _ids(*RELABELLED)
    assert {(item.status, item.review_round) for item in reopened} == {(ItemStatus.PENDING, 1)}
    # They keep their labels until reviewed again; the reopen is audited with the actor.
    assert Label.objects.filter(item__in=reopened, value="spam").count() == 3
    assert AuditEvent.objects.filter(action="item.reopen", actor=lead).count() == 3
    page = client.get(_url(versioned)).content.decode()
    assert "3 item(s) queued for review under policy v2" in page


def test_ml_engineers_see_the_page_without_the_button(client, versioned, ml_engineer):
    client.force_login(ml_engineer)
    response = client.get(_url(versioned))
    assert response.status_code == 200
    assert "for relabelling" not in response.content.decode()
    assert client.post(_url(versioned)).status_code == 403
    assert not Item.objects.filter(review_round__gt=0).exists()


@pytest.mark.parametrize("persona", ["reviewer", "senior", "outsider"])
def test_others_are_refused(client, versioned, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(_url(versioned)).status_code == 403
    assert client.post(_url(versioned)).status_code == 403
    assert not Item.objects.filter(review_round__gt=0).exists()


def test_the_page_escapes_the_policy_name(client, versioned, admin_user):
    versioned.name = "<script>alert(1)</script>"
    versioned.save(update_fields=["name"])
    client.force_login(admin_user)
    page = client.get(_url(versioned)).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
