"""Dataset exports: round trips in every format, fingerprints, splits, filters, pseudonyms and
the refusals (nothing matches, bad splits, unknown policy or format)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from io import StringIO

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from labeling import services
from labeling.export import (
    ExportFilters,
    ExportSpec,
    SplitAssigner,
    dataset_export,
    neutralise_formula,
    parse_splits,
)
from labeling.models import (
    DatasetExport,
    Decision,
    DecisionKind,
    GoldenItem,
    Label,
    LabelSource,
)
from reviewtool.exceptions import ValidationFailed
from tests.factories import PolicyFactory, UserFactory, make_items, make_queue

pytestmark = pytest.mark.django_db

VALUES = ["violating", "borderline", "not_violating"]


@pytest.fixture
def spam():
    return PolicyFactory(slug="spam", name="Spam")


@pytest.fixture
def labeled(policy, spam):
    """60 items, each labeled under "hate" and "spam"; agreement cycles 1.0, 0.5, None."""
    queue = make_queue(slug="exportq", policies=[policy, spam])
    items = make_items(queue, 60, prefix="e")
    for index, item in enumerate(items):
        for offset, target in enumerate((policy, spam)):
            services.label_store(
                item=item,
                policy=target,
                value=VALUES[(index + offset) % 3],
                source=LabelSource.IMPORT if index % 4 == 0 else LabelSource.CONSENSUS,
                agreement=(1.0, 0.5, None)[index % 3],
                announce=False,
            )
    return items


def export(tmp_path, name="out", **kwargs):
    spec = ExportSpec(**{"format": "parquet", "splits": (0.6, 0.2, 0.2), **kwargs})
    return dataset_export(spec=spec, out_dir=tmp_path / name)


def split_counts_from_sheet(sheet):
    return {split: counts["rows"] for split, counts in sheet["counts"].items()}


def test_it_round_trips_parquet_with_the_counts_the_datasheet_gives(tmp_path, labeled):
    result = export(tmp_path)

    frame = pd.read_parquet(tmp_path / "out" / "data.parquet")
    sheet = json.loads((tmp_path / "out" / "datasheet.json").read_text())
    assert len(frame) == result.row_count == sheet["row_count"] == 120
    assert frame["split"].value_counts().to_dict() == {
        split: rows for split, rows in split_counts_from_sheet(sheet).items() if rows
    }
    assert set(frame["split"]) == {"train", "validation", "test"}
    assert sheet["fingerprint"] == result.fingerprint
    assert sheet["item_count"] == 60
    for (split, policy, label), rows in (
        frame.groupby(["split", "policy", "label"]).size().to_dict().items()
    ):
        assert sheet["counts"][split]["labels"][policy][label] == rows
    assert (tmp_path / "out" / "DATASHEET.md").read_text().startswith("# Datasheet")
    assert DatasetExport.objects.get() == result


def test_hf_splits_load_with_datasets_and_match_the_datasheet(tmp_path, labeled):
    datasets = pytest.importorskip("datasets")
    result = export(tmp_path, format="hf")

    folder = tmp_path / "out"
    data_files = {
        entry["split"]: str(folder / entry["name"]) for entry in result.datasheet["files"]
    }
    assert set(data_files) == {"train", "validation", "test"}
    loaded = datasets.load_dataset(
        "parquet", data_files=data_files, cache_dir=str(tmp_path / "hf-cache")
    )
    counts = split_counts_from_sheet(result.datasheet)
    assert {split: loaded[split].num_rows for split in loaded} == counts
    assert sum(counts.values()) == 120
    assert set(loaded["train"]["split"]) == {"train"}
    table = pq.read_table(folder / "test.parquet")
    assert table.num_rows == counts["test"]


def test_csv_and_jsonl_carry_the_same_rows_and_fingerprint_as_parquet(tmp_path, labeled):
    parquet = export(tmp_path, name="p")
    as_csv = export(tmp_path, name="c", format="csv")
    as_jsonl = export(tmp_path, name="j", format="jsonl")

    with (tmp_path / "c" / "data.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = [
        json.loads(line) for line in (tmp_path / "j" / "data.jsonl").read_text().splitlines()
    ]
    frame = pd.read_parquet(tmp_path / "p" / "data.parquet")
    assert len(rows) == len(records) == len(frame) == 120
    assert [r["split"] for r in rows] == [r["split"] for r in records] == list(frame["split"])
    assert [int(r["item_id"]) for r in rows] == list(frame["item_id"])
    assert isinstance(records[0]["metadata"], dict)
    assert parquet.fingerprint == as_csv.fingerprint == as_jsonl.fingerprint


def test_the_fingerprint_is_stable_and_changes_when_a_label_changes(tmp_path, labeled, policy):
    first = export(tmp_path, name="a")
    second = export(tmp_path, name="b")
    assert first.fingerprint == second.fingerprint
    assert first.datasheet["created_at"] <= second.datasheet["created_at"]

    label = Label.objects.get(item=labeled[5], policy=policy)
    other = next(value for value in VALUES if value != label.value)
    services.label_store(
        item=labeled[5],
        policy=policy,
        value=other,
        source=LabelSource.ADJUDICATION,
        agreement=1.0,
        announce=False,
    )
    changed = export(tmp_path, name="c")
    assert changed.fingerprint != first.fingerprint


def test_the_fingerprint_covers_seed_and_splits(tmp_path, labeled):
    base = export(tmp_path, name="a")
    assert export(tmp_path, name="b", seed=1).fingerprint != base.fingerprint
    assert export(tmp_path, name="c", splits=(0.5, 0.25, 0.25)).fingerprint != base.fingerprint


def test_splits_are_deterministic_per_item_and_shared_across_policies(tmp_path, labeled):
    export(tmp_path, name="a", seed=7)
    export(tmp_path, name="b", seed=7)
    export(tmp_path, name="c", seed=8)
    a, b, c = (pd.read_parquet(tmp_path / name / "data.parquet") for name in "abc")

    assert list(a["split"]) == list(b["split"])
    assert list(a["split"]) != list(c["split"])
    per_item = a.groupby("item_id")["split"].nunique()
    assert (per_item == 1).all()


def test_split_assigner_follows_the_fractions_over_many_items():
    assign = SplitAssigner(seed=0, splits=(0.8, 0.1, 0.1))
    counts = Counter(assign(item_id) for item_id in range(20_000))
    assert 0.78 < counts["train"] / 20_000 < 0.82
    assert 0.08 < counts["validation"] / 20_000 < 0.12
    only_train = SplitAssigner(seed=0, splits=(1.0,))
    assert {only_train(item_id) for item_id in range(100)} == {"train"}


def test_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas(tmp_path, policy):
    queue = make_queue(slug="csvq", policies=[policy])
    hostile = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "ok"]
    result = services.items_ingest(
        queue=queue,
        items=[
            services.ItemInput(external_id=f"=x{index}", text=text, metadata={"k": "v"})
            for index, text in enumerate(hostile)
        ],
        source="test",
    )
    for item in result.created:
        services.label_store(
            item=item,
            policy=policy,
            value="violating",
            source=LabelSource.IMPORT,
            agreement=None,
            announce=False,
        )
    dataset_export(spec=ExportSpec(format="csv"), out_dir=tmp_path / "csv")

    with (tmp_path / "csv" / "data.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = sorted(row["text"] for row in rows)
    assert texts == sorted(["'" + text for text in hostile[:-1]] + ["ok"])
    assert all(row["external_id"].startswith("'=x") for row in rows)
    assert all(json.loads(row["metadata"]) == {"k": "v"} for row in rows)
    assert neutralise_formula("plain") == "plain"


def decide(item, verdicts, *, reviewer=None, anonymous=""):
    return Decision.objects.create(
        item=item,
        reviewer=reviewer,
        anonymous_reviewer=anonymous,
        kind=DecisionKind.IMPORT if anonymous else DecisionKind.REVIEW,
        verdicts=verdicts,
    )


def test_decisions_carry_pseudonymous_reviewer_ids(tmp_path, labeled, reviewer, other_reviewer):
    for item in labeled[:10]:
        decide(item, {"hate": "violating", "spam": "borderline"}, reviewer=reviewer)
        decide(item, {"hate": "violating"}, reviewer=other_reviewer)
        decide(item, {"hate": "borderline"}, anonymous="davidson:3")

    result = export(tmp_path, format="jsonl", with_decisions=True)

    records = [
        json.loads(line) for line in (tmp_path / "out" / "data.jsonl").read_text().splitlines()
    ]
    hate = [r for r in records if r["policy"] == "hate" and r["decisions"]]
    spam = [r for r in records if r["policy"] == "spam" and r["decisions"]]
    assert len(hate) == 10 and len(spam) == 10
    # Each hate row: rita, oscar and the anonymous coder; spam rows: rita only.
    ids_per_row = [tuple(d["reviewer"] for d in r["decisions"]) for r in hate]
    assert len(set(ids_per_row)) == 1
    rita, oscar, coder = ids_per_row[0]
    assert len({rita, oscar, coder}) == 3
    assert {d["reviewer"] for r in spam for d in r["decisions"]} == {rita}
    forbidden = {
        reviewer.username,
        other_reviewer.username,
        str(reviewer.pk),
        str(other_reviewer.pk),
        "davidson:3",
        "3",
    }
    assert not {rita, oscar, coder} & forbidden
    raw = (tmp_path / "out" / "data.jsonl").read_text()
    assert "rita" not in raw and "davidson:3" not in raw
    assert result.datasheet["with_decisions"] is True

    again = export(tmp_path, name="again", format="jsonl", with_decisions=True)
    again_records = (tmp_path / "again" / "data.jsonl").read_text()
    assert again.fingerprint == result.fingerprint
    assert again_records == raw


def test_decisions_round_trip_through_parquet(tmp_path, labeled, reviewer):
    decide(labeled[0], {"hate": "violating"}, reviewer=reviewer)
    export(tmp_path, with_decisions=True)

    frame = pd.read_parquet(tmp_path / "out" / "data.parquet")
    with_decisions = frame[frame["decisions"].map(len) > 0]
    assert len(with_decisions) == 1
    assert with_decisions.iloc[0]["decisions"][0]["value"] == "violating"


def test_the_datasheet_reports_agreement_alpha_and_policy_versions(
    tmp_path, labeled, policy, reviewer, other_reviewer
):
    for index, item in enumerate(labeled[:20]):
        decide(item, {"hate": VALUES[index % 3]}, reviewer=reviewer)
        decide(
            item, {"hate": VALUES[index % 3] if index % 5 else VALUES[0]}, reviewer=other_reviewer
        )
    policy = services.policy_update(policy=policy, guidelines="# New rules")
    services.label_store(
        item=labeled[0],
        policy=policy,
        value="violating",
        source=LabelSource.ADJUDICATION,
        agreement=1.0,
        announce=False,
    )
    policy.refresh_from_db()

    sheet = export(tmp_path).datasheet

    hate = sheet["agreement"]["per_policy"]["hate"]
    alpha = hate["krippendorff_alpha_nominal"]
    assert alpha["defined"] is True and 0.5 < alpha["value"] < 1.0
    assert alpha["n_items"] == 20 and alpha["n_raters"] == 2
    spam_alpha = sheet["agreement"]["per_policy"]["spam"]["krippendorff_alpha_nominal"]
    assert spam_alpha["defined"] is False and spam_alpha["reason"].startswith("not defined")
    assert sheet["agreement"]["rows_with_agreement"] == 80
    versions = sheet["policy_versions"]["hate"]
    assert versions["current"] == policy.version == 2
    assert versions["present"] == {"1": 59, "2": 1}
    assert versions["labels_before_current"] == 59


def test_golden_only_exports_the_active_golden_items(tmp_path, labeled):
    GoldenItem.objects.create(item=labeled[3], expected={"hate": "violating"})
    GoldenItem.objects.create(item=labeled[4], expected={"hate": "violating"}, active=False)

    result = export(tmp_path, filters=ExportFilters(golden_only=True))

    frame = pd.read_parquet(tmp_path / "out" / "data.parquet")
    assert set(frame["item_id"]) == {labeled[3].pk}
    assert frame["golden"].all()
    assert result.row_count == 2 and result.datasheet["golden_rows"] == 2
    assert result.filters["golden_only"] is True


def test_min_agreement_drops_lower_and_unknown_agreement(tmp_path, labeled):
    result = export(tmp_path, filters=ExportFilters(min_agreement=0.75))

    frame = pd.read_parquet(tmp_path / "out" / "data.parquet")
    assert result.row_count == 40
    assert (frame["agreement"] == 1.0).all()


def test_policy_source_and_queue_filters(tmp_path, labeled, policy):
    result = export(
        tmp_path, filters=ExportFilters(policies=("hate",), sources=("import",), queue="exportq")
    )
    frame = pd.read_parquet(tmp_path / "out" / "data.parquet")
    assert set(frame["policy"]) == {"hate"}
    assert set(frame["label_source"]) == {"import"}
    assert result.row_count == 15


def test_since_and_until_are_inclusive_utc_days(tmp_path, labeled):
    today = Label.objects.order_by("created_at")[0].created_at.date()
    assert (
        export(tmp_path, name="a", filters=ExportFilters(since=today, until=today)).row_count == 120
    )
    with pytest.raises(ValidationFailed, match="no labels match"):
        export(tmp_path, name="b", filters=ExportFilters(until=today.replace(year=2000)))


def test_no_matching_labels_writes_nothing_and_records_nothing(tmp_path, labeled):
    with pytest.raises(ValidationFailed, match="no labels match these filters"):
        export(tmp_path, filters=ExportFilters(min_agreement=1.0, sources=("adjudication",)))
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []
    assert not DatasetExport.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": ExportFilters(policies=("nope",))}, "Unknown policy: nope"),
        ({"filters": ExportFilters(queue="nope")}, "Unknown queue: nope"),
        ({"filters": ExportFilters(sources=("guess",))}, "Unknown label source"),
        ({"filters": ExportFilters(min_agreement=1.5)}, "between 0 and 1"),
        ({"format": "xlsx"}, "Unknown format"),
        ({"splits": (0.8, 0.3)}, "sum to 1"),
        ({"splits": (0.5, 0.25, 0.25, 0.0)}, "one to three"),
        ({"splits": (1.5, -0.5)}, "between 0 and 1"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_written(tmp_path, labeled, kwargs, message):
    with pytest.raises(ValidationFailed, match=message):
        export(tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []
    assert not DatasetExport.objects.exists()


def test_parse_splits_reads_comma_lists():
    assert parse_splits("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
    assert parse_splits("1") == (1.0,)
    with pytest.raises(ValidationFailed, match="numbers"):
        parse_splits("eighty,twenty")


def test_it_refuses_a_folder_that_is_not_empty(tmp_path, labeled):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ValidationFailed, match="not empty"):
        export(tmp_path)
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_small_batches_give_the_same_files_and_fingerprint(tmp_path, labeled):
    spec = ExportSpec(format="csv", splits=(0.6, 0.2, 0.2))
    whole = dataset_export(spec=spec, out_dir=tmp_path / "a")
    batched = dataset_export(spec=spec, out_dir=tmp_path / "b", batch_rows=7)
    assert whole.fingerprint == batched.fingerprint
    assert (tmp_path / "a" / "data.csv").read_bytes() == (tmp_path / "b" / "data.csv").read_bytes()


# --- the management command ------------------------------------------------------------------


def run(*args):
    out = StringIO()
    call_command("export_dataset", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_command_exports_with_filters_and_records_the_snapshot(tmp_path, labeled):
    output = run(
        "--format",
        "hf",
        "--out",
        str(tmp_path / "hf"),
        "--policy",
        "hate,spam",
        "--source",
        "consensus",
        "--splits",
        "0.6,0.2,0.2",
        "--seed",
        "3",
    )
    export = DatasetExport.objects.get()
    assert export.fingerprint in output
    assert export.filters["sources"] == ["consensus"]
    assert export.datasheet["seed"] == 3
    assert sorted(path.name for path in (tmp_path / "hf").iterdir()) == [
        "DATASHEET.md",
        "datasheet.json",
        "test.parquet",
        "train.parquet",
        "validation.parquet",
    ]


def test_the_command_says_what_matched_nothing(tmp_path, labeled):
    with pytest.raises(CommandError, match="no labels match these filters"):
        run("--format", "csv", "--out", str(tmp_path / "x"), "--golden-only")
    assert not (tmp_path / "x").exists()
    assert not DatasetExport.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--splits", "0.9,0.2"], "sum to 1"),
        (["--policy", "nope"], "Unknown policy"),
        (["--since", "yesterday"], "ISO date"),
    ],
)
def test_the_command_refuses_bad_input(tmp_path, labeled, args, message):
    with pytest.raises(CommandError, match=message):
        run("--format", "csv", "--out", str(tmp_path / "x"), *args)


def test_the_command_refuses_an_unknown_format(tmp_path):
    with pytest.raises(CommandError, match="invalid choice"):
        run("--format", "xlsx", "--out", str(tmp_path / "x"))


def test_with_decisions_users_are_not_in_the_csv(tmp_path, labeled):
    UserFactory(username="secret-name", roles=[])
    user = get_user_model().objects.get(username="secret-name")
    decide(labeled[0], {"hate": "violating"}, reviewer=user)
    run("--format", "csv", "--out", str(tmp_path / "c"), "--with-decisions")
    text = (tmp_path / "c" / "data.csv").read_text(encoding="utf-8")
    assert "secret-name" not in text
    assert f"user:{user.pk}" not in text
