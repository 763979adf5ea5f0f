"""``manage.py import_items``: what it stores, what it refuses, and that it never half-imports."""

from __future__ import annotations

import csv
import json
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labeling import signals
from labeling.models import (
    DEFAULT_LABELS,
    Decision,
    DecisionKind,
    Item,
    ItemStatus,
    Label,
    LabelSource,
    Lease,
    LeaseState,
    Policy,
    Queue,
)
from tests.factories import PolicyFactory, make_queue

pytestmark = pytest.mark.django_db

DAVIDSON_HEADER = ",count,hate_speech,offensive_language,neither,class,tweet\n"


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def run(path, *args):
    out = StringIO()
    call_command("import_items", str(path), *args, stdout=out, stderr=StringIO(), verbosity=0)
    return out.getvalue()


def counts():
    return (
        Item.objects.count(),
        Label.objects.count(),
        Decision.objects.count(),
        Policy.objects.count(),
        Queue.objects.count(),
    )


def test_a_labeled_csv_creates_policy_queue_and_resolved_items(tmp_path):
    path = write(
        tmp_path,
        "posts.csv",
        'id,body,verdict,lang\np1,<b>hi</b>,bad,en\np2,"two\nlines",good,de\np3,no label yet,,fr\n',
    )

    output = run(
        path,
        *("--format", "csv", "--queue", "inbox", "--policy", "rules"),
        *("--text-field", "body", "--id-field", "id", "--label-field", "verdict"),
        *("--metadata-fields", "lang"),
    )

    policy = Policy.objects.get(slug="rules")
    assert policy.labels == ["bad", "good"]
    queue = Queue.objects.get(slug="inbox")
    assert list(queue.policies.all()) == [policy]
    items = {item.external_id: item for item in Item.objects.all()}
    assert set(items) == {"p1", "p2", "p3"}
    assert {item.source for item in items.values()} == {"posts"}
    assert items["p2"].text == "two\nlines"
    assert items["p1"].metadata == {"lang": "en"}
    label = Label.objects.get(item=items["p1"])
    assert (label.value, label.source, label.policy_version) == ("bad", LabelSource.IMPORT, 1)
    assert items["p1"].status == ItemStatus.RESOLVED
    assert items["p3"].status == ItemStatus.PENDING
    assert not Label.objects.filter(item=items["p3"]).exists()
    assert not Lease.objects.filter(item=items["p1"]).exclude(state=LeaseState.DONE).exists()
    assert Lease.objects.filter(item=items["p3"], state=LeaseState.OPEN).count() == 1
    assert "3 items created" in output


def test_listeners_hear_of_the_imported_labels_once_per_batch(
    tmp_path, django_capture_on_commit_callbacks
):
    path = write(tmp_path, "posts.csv", "text,label\none,bad\ntwo,good\nthree,bad\n")
    heard = []

    def receiver(sender, policy_id, label_ids, **kwargs):
        heard.append((policy_id, sorted(label_ids)))

    signals.labels_resolved.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run(path, "--format", "csv", "--queue", "q", "--policy", "p", "--label-field", "label")
    finally:
        signals.labels_resolved.disconnect(receiver)

    policy = Policy.objects.get(slug="p")
    assert heard == [(policy.pk, sorted(Label.objects.values_list("pk", flat=True)))]
    assert len(heard[0][1]) == 3


def test_jsonl_into_an_existing_queue_keeps_its_policy(tmp_path):
    policy = PolicyFactory(slug="spam", labels=["spam", "ham"], positive_labels=["spam"])
    make_queue(slug="sms", policies=[policy])
    lines = [
        {"msg_id": 1, "message": "win a prize", "y": "spam"},
        {"msg_id": 2, "message": "see you", "y": "ham"},
    ]
    path = write(tmp_path, "feed.jsonl", "".join(json.dumps(line) + "\n" for line in lines))

    run(
        path,
        *("--format", "jsonl", "--queue", "sms", "--policy", "spam", "--source", "feed-2024"),
        *("--text-field", "message", "--id-field", "msg_id", "--label-field", "y"),
    )

    assert dict(Label.objects.values_list("item__external_id", "value")) == {
        "1": "spam",
        "2": "ham",
    }
    assert set(Item.objects.values_list("source", flat=True)) == {"feed-2024"}
    assert Policy.objects.get(slug="spam").labels == ["spam", "ham"]


def test_without_labels_items_wait_for_review_under_the_default_label_set(tmp_path):
    path = write(tmp_path, "posts.csv", "text,label\none,bad\ntwo,good\n")

    run(path, "--format", "csv", "--queue", "q", "--policy", "p", "--without-labels")

    assert Policy.objects.get(slug="p").labels == DEFAULT_LABELS
    assert Item.objects.filter(status=ItemStatus.PENDING).count() == 2
    assert Label.objects.count() == 0


def test_offset_and_limit_import_a_slice_with_row_number_ids(tmp_path):
    path = write(tmp_path, "posts.csv", "text\n" + "".join(f"t{i}\n" for i in range(1, 11)))

    run(path, "--format", "csv", "--queue", "q", "--policy", "p", "--offset", "2", "--limit", "3")

    assert sorted(Item.objects.values_list("external_id", "text")) == [
        ("3", "t3"),
        ("4", "t4"),
        ("5", "t5"),
    ]


BAD_INPUTS = {
    "not utf-8": ("posts.csv", b"id,text,label\n1,fine,a\n2,caf\xe9,a\n", 3, "not valid UTF-8"),
    "missing column": ("posts.csv", "id,body,label\n1,x,a\n", 1, "missing column(s) 'text'"),
    "duplicate id": ("posts.csv", "id,text,label\n1,a,a\n2,b,a\n1,c,a\n", 4, "duplicate id '1'"),
    "overlong line": (
        "posts.csv",
        "id,text,label\n1,a,a\n2," + "x" * (10 * 1024 * 1024) + ",a\n3,c,a\n",
        3,
        "longer than the limit",
    ),
    "malformed json": (
        "posts.jsonl",
        '{"id": 1, "text": "a", "label": "a"}\n{"id": 2, "text": "b" "label": "a"}\n',
        2,
        "malformed JSON",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_bad_file_is_refused_with_the_line_and_nothing_is_stored(tmp_path, case):
    name, content, line, message = BAD_INPUTS[case]
    path = write(tmp_path, name, content)
    fmt = Path(name).suffix.lstrip(".")

    with pytest.raises(CommandError) as raised:
        run(
            path,
            *("--format", fmt, "--queue", "q", "--policy", "p"),
            *("--id-field", "id", "--label-field", "label"),
        )

    assert f"line {line}: " in str(raised.value)
    assert message in str(raised.value)
    assert "nothing was imported" in str(raised.value)
    assert counts() == (0, 0, 0, 0, 0)


def test_a_failure_in_a_later_batch_leaves_nothing_behind(tmp_path, monkeypatch):
    from labeling import imports

    path = write(tmp_path, "posts.csv", "text,label\n" + "".join(f"t{i},a\n" for i in range(5)))
    real_labels_import = imports.labels_import
    calls = []

    def failing_labels_import(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_labels_import(**kwargs)

    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    monkeypatch.setattr(imports, "labels_import", failing_labels_import)

    with pytest.raises(RuntimeError):
        run(path, "--format", "csv", "--queue", "q", "--policy", "p", "--label-field", "label")

    assert len(calls) == 2
    assert counts() == (0, 0, 0, 0, 0)
    assert Lease.objects.count() == 0


def test_an_unknown_label_for_an_existing_policy_is_refused(tmp_path):
    PolicyFactory(slug="p", labels=["bad", "good"])
    path = write(tmp_path, "posts.csv", "text,label\none,bad\ntwo,awful\nthree,good\n")

    with pytest.raises(CommandError, match=r"line 3: unknown label\(s\) 'awful'"):
        run(path, "--format", "csv", "--queue", "q", "--policy", "p", "--label-field", "label")

    assert counts() == (0, 0, 0, 1, 0)


def test_many_errors_are_listed_up_to_twenty_and_counted(tmp_path):
    path = write(tmp_path, "posts.csv", "id,text\n" + "x,dup\n" * 31)

    with pytest.raises(CommandError) as raised:
        run(path, "--format", "csv", "--queue", "q", "--policy", "p", "--id-field", "id")

    message = str(raised.value)
    assert "30 error(s)" in message
    assert "line 3: duplicate id 'x' (first seen on line 2)" in message
    assert "line 22: " in message
    assert "line 23: " not in message
    assert message.rstrip().endswith("and 10 more")


def test_more_than_nine_labels_cannot_make_a_policy(tmp_path):
    path = write(tmp_path, "posts.csv", "text,label\n" + "".join(f"t{i},l{i}\n" for i in range(10)))

    with pytest.raises(CommandError, match="a policy holds at most 9"):
        run(path, "--format", "csv", "--queue", "q", "--policy", "p", "--label-field", "label")

    assert counts() == (0, 0, 0, 0, 0)


def test_a_queue_that_does_not_review_the_policy_is_refused(tmp_path, queue):
    path = write(tmp_path, "posts.csv", "text\none\n")

    with pytest.raises(CommandError, match="does not review policy 'other'"):
        run(path, "--format", "csv", "--queue", queue.slug, "--policy", "other")


def test_preset_formats_refuse_column_options(tmp_path):
    path = write(tmp_path, "labeled_data.csv", DAVIDSON_HEADER)

    with pytest.raises(CommandError, match="--text-field: only for --format csv or jsonl"):
        run(path, "--format", "davidson", "--queue", "q", "--policy", "p", "--text-field", "x")


def davidson_file(tmp_path):
    return write(
        tmp_path,
        "labeled_data.csv",
        DAVIDSON_HEADER
        + '0,3,0,1,2,2,"RT &amp; more &#8220;quoted&#8221;\n<script>x</script>"\n'
        + "4,6,4,2,0,0,second\n"
        + "9,3,0,3,0,1,third\n",
    )


def test_davidson_votes_become_anonymous_decisions_and_the_class_the_label(tmp_path):
    path = davidson_file(tmp_path)

    run(path, "--format", "davidson", "--queue", "tweets", "--policy", "hate_speech")

    policy = Policy.objects.get(slug="hate_speech")
    assert policy.labels == ["hate_speech", "offensive_language", "neither"]
    assert policy.positive_labels == ["hate_speech"]
    first = Item.objects.get(source="davidson", external_id="0")
    assert first.text == "RT & more \u201cquoted\u201d\n<script>x</script>"
    decisions = Decision.objects.filter(item=first).order_by("anonymous_reviewer")
    assert [(d.anonymous_reviewer, d.verdicts["hate_speech"]) for d in decisions] == [
        ("davidson:1", "offensive_language"),
        ("davidson:2", "neither"),
        ("davidson:3", "neither"),
    ]
    assert {(d.kind, d.reviewer_id) for d in decisions} == {(DecisionKind.IMPORT, None)}
    label = Label.objects.get(item=first)
    assert label.value == "neither"
    assert label.agreement == pytest.approx(2 / 3)
    assert Decision.objects.count() == 12
    assert Counter(Label.objects.values_list("value", flat=True)) == {
        "neither": 1,
        "hate_speech": 1,
        "offensive_language": 1,
    }
    assert set(Item.objects.values_list("status", flat=True)) == {ItemStatus.RESOLVED}


def test_rerunning_an_import_creates_nothing_new(tmp_path):
    path = davidson_file(tmp_path)
    args = ("--format", "davidson", "--queue", "tweets", "--policy", "hate_speech")
    run(path, *args)
    before = counts()

    output = run(path, *args)

    assert counts() == before == (3, 3, 12, 1, 1)
    assert "0 items created, 3 already there" in output
    assert "0 labels and 0 decisions" in output


def test_labels_are_not_added_to_items_imported_earlier_without_them(tmp_path):
    path = davidson_file(tmp_path)
    args = ("--format", "davidson", "--queue", "tweets", "--policy", "hate_speech")
    run(path, *args, "--without-labels")

    run(path, *args)

    assert (Item.objects.count(), Label.objects.count(), Decision.objects.count()) == (3, 0, 0)


def test_sms_preset_repairs_c1_characters(tmp_path):
    path = write(
        tmp_path,
        "SMSSpamCollection.tsv",
        "ham\tI\u0092m late &amp; sorry\nspam\tFREE prize\n",
    )

    run(path, "--format", "sms", "--queue", "sms", "--policy", "spam")

    assert dict(Item.objects.values_list("external_id", "text")) == {
        "1": "I\u2019m late & sorry",
        "2": "FREE prize",
    }
    assert dict(Label.objects.values_list("item__external_id", "value")) == {
        "1": "ham",
        "2": "spam",
    }
    assert Policy.objects.get(slug="spam").labels == ["spam", "ham"]


@pytest.mark.dataset
def test_the_real_davidson_file_imports_completely(datasets_dir):
    path = datasets_dir / "davidson2017" / "labeled_data.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with path.open(newline="", encoding="utf-8") as handle:
        total_votes = sum(int(row["count"]) for row in csv.DictReader(handle))

    run(path, "--format", "davidson", "--queue", "tweets", "--policy", "hate_speech")

    assert Item.objects.count() == 24_783
    assert Counter(Label.objects.values_list("value", flat=True)) == {
        "hate_speech": 1_430,
        "offensive_language": 19_190,
        "neither": 4_163,
    }
    assert Decision.objects.count() == total_votes
    assert not Item.objects.filter(text__contains="&amp;").exists()
