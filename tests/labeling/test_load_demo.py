"""``manage.py load_demo``: accounts in their roles, policies, queues, items; safe to re-run."""

from __future__ import annotations

import json
import stat
from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from labeling.models import (
    Decision,
    Item,
    ItemMedia,
    ItemStatus,
    Label,
    Lease,
    MediaAsset,
    Policy,
    Queue,
    Roles,
)

pytestmark = pytest.mark.django_db

DAVIDSON_HEADER = ",count,hate_speech,offensive_language,neither,class,tweet\n"


@pytest.fixture
def demo_settings(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    settings.REVIEWTOOL_DATASETS = tmp_path / "datasets"
    settings.REVIEWTOOL_DATASETS.mkdir()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings


def load_demo(*args):
    out = StringIO()
    call_command("load_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            get_user_model(),
            Policy,
            Queue,
            Item,
            Lease,
            Label,
            Decision,
            MediaAsset,
            ItemMedia,
        )
    }


def test_it_creates_one_account_per_role_with_stored_random_passwords(demo_settings):
    output = load_demo()

    users = get_user_model().objects
    expected = {
        "reviewer": Roles.REVIEWER,
        "senior": Roles.SENIOR_REVIEWER,
        "mlengineer": Roles.ML_ENGINEER,
        "lead": Roles.LEAD,
        "admin": Roles.ADMIN,
    }
    for username, role in expected.items():
        assert list(users.get(username=username).groups.values_list("name", flat=True)) == [role]
    admin = users.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert not users.get(username="lead").is_superuser
    logins_file = demo_settings.VAR_DIR / "demo_logins.json"
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    passwords = json.loads(logins_file.read_text())
    assert set(passwords) == set(expected)
    assert len(set(passwords.values())) == 5
    for username, password in passwords.items():
        assert authenticate(username=username, password=password) is not None
        assert f"{username}" in output and password in output


def test_it_creates_the_policies_and_queues(demo_settings):
    load_demo()

    assert Policy.objects.get(slug="hate_speech").labels == [
        "hate_speech",
        "offensive_language",
        "neither",
    ]
    assert set(Policy.objects.values_list("slug", flat=True)) == {
        "hate_speech",
        "harassment",
        "spam",
    }
    assert all(policy.guidelines.startswith("# ") for policy in Policy.objects.all())
    tweets = Queue.objects.get(slug="tweets")
    spam_check = Queue.objects.get(slug="spam-check")
    assert [p.slug for p in tweets.policies.all()] == ["hate_speech"]
    assert [p.slug for p in spam_check.policies.all()] == ["spam"]
    assert (tweets.overlap, spam_check.overlap) == (1, 2)
    assert set(tweets.reviewers.values_list("username", flat=True)) == {"reviewer", "senior"}


def test_without_datasets_it_loads_generated_samples_for_review(demo_settings):
    load_demo()

    tweets = Item.objects.filter(queue__slug="tweets")
    assert 50 <= tweets.count() <= 70
    assert tweets.filter(text__contains="<script>").exists()
    assert Item.objects.filter(queue__slug="spam-check").count() == 30
    assert Lease.objects.filter(queue__slug="spam-check").count() == 60
    assert set(Item.objects.values_list("status", flat=True)) == {ItemStatus.PENDING}
    assert Label.objects.count() == 0


def test_running_it_twice_changes_nothing_and_prints_the_same_logins(demo_settings):
    first_output = load_demo()
    first = counts()
    password_hash = get_user_model().objects.get(username="reviewer").password

    second_output = load_demo()

    assert counts() == first
    assert second_output == first_output
    assert get_user_model().objects.get(username="reviewer").password == password_hash


def test_with_datasets_it_imports_history_and_pending_tweets(demo_settings):
    datasets = demo_settings.REVIEWTOOL_DATASETS
    (datasets / "davidson2017").mkdir()
    rows = "".join(f"{index},3,0,1,2,2,tweet &amp; number {index}\n" for index in range(10))
    (datasets / "davidson2017" / "labeled_data.csv").write_text(DAVIDSON_HEADER + rows)
    (datasets / "sms_spam_collection").mkdir()
    messages = "".join(f"ham\tmessage \u0092{index}\n" for index in range(40))
    (datasets / "sms_spam_collection" / "SMSSpamCollection.tsv").write_text(messages)

    load_demo("--davidson-rows", "5")
    first = counts()
    load_demo("--davidson-rows", "5")

    assert counts() == first
    tweets = Item.objects.filter(queue__slug="tweets", source="davidson")
    assert sorted(tweets.values_list("external_id", "status")) == [
        ("0", ItemStatus.RESOLVED),
        ("1", ItemStatus.RESOLVED),
        ("2", ItemStatus.PENDING),
        ("3", ItemStatus.PENDING),
        ("4", ItemStatus.PENDING),
    ]
    assert tweets.get(external_id="0").text == "tweet & number 0"
    assert Label.objects.count() == 2
    assert Decision.objects.count() == 6
    messages_loaded = Item.objects.filter(queue__slug="spam-check")
    assert messages_loaded.count() == 30
    assert set(messages_loaded.values_list("source", flat=True)) == {"sms"}
    assert messages_loaded.get(external_id="1").text == "message \u20190"


def test_the_memes_queue_mixes_text_image_audio_and_video_items(demo_settings):
    load_demo()

    memes = Queue.objects.get(slug="memes")
    assert [p.slug for p in memes.policies.all()] == ["spam"]
    assert memes.items.count() == 12
    kinds = sorted(
        ItemMedia.objects.filter(item__queue=memes).values_list("asset__kind", flat=True)
    )
    assert kinds == ["audio"] + ["image"] * 6 + ["video"]
    assert memes.items.filter(media__isnull=True).count() == 4
    for asset in MediaAsset.objects.all():
        assert (demo_settings.MEDIA_ROOT / asset.storage_path).is_file()
        assert len(asset.sha256) == 64
