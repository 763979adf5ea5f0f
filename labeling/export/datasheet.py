"""The datasheet: counts, label distribution, agreement, policy versions."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from labeling.agreement import krippendorff_alpha, ratings_from_rows
from labeling.export.rows import _canonical, _identity
from labeling.export.spec import (
    _AGREEMENT,
    _GOLDEN,
    _LABEL,
    _POLICY,
    _SPLIT,
    _VERSION,
    CHUNK_SIZE,
    FINGERPRINT_VERSION,
    MAX_ALPHA_CELLS,
    SPLIT_NAMES,
    Row,
)
from labeling.models import (
    Decision,
    DecisionKind,
    Label,
    Policy,
)


@dataclass
class _Tally:
    """Running counts over the rows, all keyed by small things (splits, policies, labels)."""

    rows: int = 0
    golden: int = 0
    by_split_label: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    versions: Counter[tuple[str, int]] = field(default_factory=Counter)
    agreement_sum: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    agreement_rows: Counter[str] = field(default_factory=Counter)

    def add_batch(self, rows: Sequence[Row]) -> None:
        self.rows += len(rows)
        self.by_split_label.update((row[_SPLIT], row[_POLICY], row[_LABEL]) for row in rows)
        self.versions.update((row[_POLICY], row[_VERSION]) for row in rows)
        self.golden += sum(1 for row in rows if row[_GOLDEN])
        for row in rows:
            if row[_AGREEMENT] is not None:
                self.agreement_sum[row[_POLICY]] += row[_AGREEMENT]
                self.agreement_rows[row[_POLICY]] += 1


def _counts(tally: _Tally) -> dict[str, Any]:
    per_split: dict[str, Any] = {}
    for split in SPLIT_NAMES:
        labels: dict[str, dict[str, int]] = defaultdict(dict)
        for (row_split, policy, label), count in sorted(tally.by_split_label.items()):
            if row_split == split:
                labels[policy][label] = count
        per_split[split] = {
            "rows": sum(sum(v.values()) for v in labels.values()),
            **{"labels": dict(labels)},
        }
    return per_split


def _distribution(tally: _Tally) -> dict[str, Any]:
    totals: Counter[tuple[str, str]] = Counter()
    for (_split, policy, label), count in tally.by_split_label.items():
        totals[(policy, label)] += count
    per_policy: dict[str, Counter[str]] = defaultdict(Counter)
    for (policy, label), count in totals.items():
        per_policy[policy][label] = count
    return {
        policy: {
            label: {"count": count, "share": count / sum(labels.values())}
            for label, count in sorted(labels.items())
        }
        for policy, labels in sorted(per_policy.items())
    }


def _agreement_summary(tally: _Tally, alphas: Mapping[str, Any]) -> dict[str, Any]:
    rows = sum(tally.agreement_rows.values())
    return {
        "mean": sum(tally.agreement_sum.values()) / rows if rows else None,
        "rows_with_agreement": rows,
        "per_policy": {
            policy: {
                "mean": tally.agreement_sum[policy] / count if count else None,
                "rows_with_agreement": count,
                "krippendorff_alpha_nominal": alphas.get(policy),
            }
            for policy, count in (
                (policy, tally.agreement_rows[policy])
                for policy in sorted({policy for _, policy, _ in tally.by_split_label})
            )
        },
    }


def _policy_versions(tally: _Tally) -> dict[str, Any]:
    present: dict[str, dict[str, int]] = defaultdict(dict)
    for (policy, version), count in sorted(tally.versions.items()):
        present[policy][str(version)] = count
    current = dict(Policy.objects.filter(slug__in=present).values_list("slug", "version"))
    return {
        policy: {
            "present": versions,
            "current": current.get(policy),
            "labels_before_current": sum(
                count
                for version, count in versions.items()
                if current.get(policy) is not None and int(version) < current[policy]
            ),
        }
        for policy, versions in present.items()
    }


def _krippendorff(queryset: QuerySet[Label], policies: Iterable[str]) -> dict[str, Any]:
    """Nominal alpha per policy over the review and import decisions on the exported items.

    Streams the decisions by item and keeps only items with two or more raters (the only ones
    alpha can pair); a rater's latest unretracted decision on an item counts.
    """
    result: dict[str, Any] = {}
    for slug in sorted(policies):
        items = queryset.filter(policy__slug=slug).order_by().values("item_id")
        decisions = (
            Decision.objects.filter(
                item_id__in=items,
                kind__in=(DecisionKind.REVIEW, DecisionKind.IMPORT),
                retraction__isnull=True,
            )
            .order_by("item_id", "id")
            .values_list("item_id", "reviewer_id", "anonymous_reviewer", "verdicts")
            .iterator(chunk_size=CHUNK_SIZE)
        )
        triples: list[tuple[int | None, str, str]] = []
        current: int | None = None
        unit: dict[str, str] = {}
        for item_id, reviewer_id, anonymous, verdicts in decisions:
            if item_id != current:
                if len(unit) >= 2:
                    triples.extend((current, rater, value) for rater, value in unit.items())
                current, unit = item_id, {}
            if isinstance(verdicts, dict) and slug in verdicts:
                unit[_identity(reviewer_id, anonymous)] = str(verdicts[slug])
        if len(unit) >= 2:
            triples.extend((current, rater, value) for rater, value in unit.items())
        result[slug] = _alpha(triples)
    return result


def _alpha(triples: list[tuple[Any, str, str]]) -> dict[str, Any]:
    if not triples:
        return {
            "value": None,
            "defined": False,
            "n_items": 0,
            "n_raters": 0,
            "reason": "not defined: no exported item has decisions from two or more raters",
        }
    table = ratings_from_rows(triples)
    if table.n_raters * table.n_items > MAX_ALPHA_CELLS:
        return {
            "value": None,
            "defined": False,
            "n_items": table.n_items,
            "n_raters": table.n_raters,
            "reason": "not computed: too many raters x items for the dense reliability matrix",
        }
    agreement = krippendorff_alpha(table.reliability_data(), level="nominal")
    return {
        "value": agreement.value,
        "defined": agreement.defined,
        "n_items": agreement.n_items,
        "n_raters": agreement.n_raters,
        "reason": agreement.reason,
    }


def _tool() -> dict[str, Any]:
    try:
        version = package_metadata.version("reviewtool")
    except package_metadata.PackageNotFoundError:  # pragma: no cover - installed in the venv
        version = "unknown"
    return {"name": "reviewtool", "version": version, "fingerprint_version": FINGERPRINT_VERSION}


def _file_entry(path: Path, split: str | None) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {
        "name": path.name,
        "split": split,
        "bytes": path.stat().st_size,
        "sha256": digest.hexdigest(),
    }


def datasheet_markdown(sheet: Mapping[str, Any]) -> str:
    """The datasheet for people: the same facts as ``datasheet.json``."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "# Datasheet",
        "",
        f"- Fingerprint: `{sheet['fingerprint']}`",
        f"- Created: {sheet['created_at']} by {cell(sheet['tool']['name'])} "
        f"{cell(sheet['tool']['version'])}",
        f"- Format: {sheet['format']}; rows: {sheet['row_count']}; items: {sheet['item_count']}; "
        f"golden rows: {sheet['golden_rows']}",
        f"- Splits: {cell(sheet['splits'])}, seed {sheet['seed']} ({sheet['split_method']})",
        f"- Filters: `{cell(_canonical(sheet['filters']))}`",
        f"- Reviewer ids: {sheet['reviewer_ids']}",
        "",
        "## Rows per split and label",
        "",
        "| split | policy | label | rows |",
        "| --- | --- | --- | ---: |",
    ]
    for split, counts in sheet["counts"].items():
        for policy, labels in counts["labels"].items():
            lines.extend(
                f"| {split} | {cell(policy)} | {cell(label)} | {count} |"
                for label, count in labels.items()
            )
    lines += ["", "## Agreement", "", f"Mean agreement: {sheet['agreement']['mean']}", ""]
    lines += [
        "| policy | mean agreement | Krippendorff's alpha (nominal) |",
        "| --- | ---: | --- |",
    ]
    for policy, summary in sheet["agreement"]["per_policy"].items():
        alpha = summary["krippendorff_alpha_nominal"] or {}
        shown = alpha.get("value") if alpha.get("defined") else alpha.get("reason", "not defined")
        lines.append(f"| {cell(policy)} | {summary['mean']} | {cell(shown)} |")
    lines += [
        "",
        "## Policy versions",
        "",
        "| policy | present | current | labels before current |",
        "| --- | --- | ---: | ---: |",
    ]
    for policy, versions in sheet["policy_versions"].items():
        lines.append(
            f"| {cell(policy)} | {cell(versions['present'])} | {versions['current']} | "
            f"{versions['labels_before_current']} |"
        )
    lines += ["", "## Files", "", "| file | split | bytes | sha256 |", "| --- | --- | ---: | --- |"]
    lines.extend(
        f"| {entry['name']} | {entry['split'] or 'all'} | {entry['bytes']} | `{entry['sha256']}` |"
        for entry in sheet["files"]
    )
    lines += ["", "## Fields", ""]
    lines.extend(f"- `{item['name']}`: {item['description']}" for item in sheet["fields"])
    return "\n".join(lines) + "\n"
