"""What to export: filters, the export spec, split assignment, CSV formula neutralising."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from labeling.roles import POLICY_OWNER_ROLES, has_any_role
from reviewtool.exceptions import ValidationFailed

FINGERPRINT_VERSION = 1


CHUNK_SIZE = 5000


BATCH_ROWS = 20_000


SPLIT_NAMES = ("train", "validation", "test")


DEFAULT_SPLITS = (0.8, 0.1, 0.1)


# What a spreadsheet would read as the start of a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# Krippendorff's alpha works on a dense (raters x items) matrix; beyond this many cells it is
# not computed rather than exhausting memory.
MAX_ALPHA_CELLS = 50_000_000


ROW_FIELDS = (
    "item_id",
    "external_id",
    "source",
    "text",
    "language",
    "metadata",
    "policy",
    "policy_version",
    "label",
    "label_source",
    "agreement",
    "confidence",
    "label_created_at",
    "split",
    "golden",
)


DECISIONS_FIELD = "decisions"


FIELD_DESCRIPTIONS = {
    "item_id": "reviewtool item id",
    "external_id": "the item's id in its source system",
    "source": "where the item came from",
    "text": "the item's text",
    "language": "language tag, if known",
    "metadata": "the item's metadata as a JSON object (a JSON string in CSV and Parquet)",
    "policy": "policy slug",
    "policy_version": "the policy version the label was decided under",
    "label": "the resolved label value",
    "label_source": "consensus, adjudication or import",
    "agreement": "share of counted decisions that agree with the label (empty if unknown)",
    "confidence": "posterior probability of the label under the queue's aggregation",
    "label_created_at": "when the label was first resolved (UTC, ISO 8601)",
    "split": "train, validation or test",
    "golden": "the item is an active golden (known-answer) item",
    DECISIONS_FIELD: "per-reviewer decisions: pseudonymous reviewer, value, kind, review round, "
    "time",
}


_QUERY_FIELDS = (
    "item_id",
    "item__external_id",
    "item__source",
    "item__text",
    "item__language",
    "metadata_text",
    "policy__slug",
    "policy_version",
    "value",
    "source",
    "agreement",
    "confidence",
    "created_text",
    "item__golden__active",
)


_POLICY = ROW_FIELDS.index("policy")


_LABEL = ROW_FIELDS.index("label")


_SPLIT = ROW_FIELDS.index("split")


_CREATED = ROW_FIELDS.index("label_created_at")


_METADATA = ROW_FIELDS.index("metadata")


_AGREEMENT = ROW_FIELDS.index("agreement")


_VERSION = ROW_FIELDS.index("policy_version")


_GOLDEN = ROW_FIELDS.index("golden")


Row = tuple[Any, ...]


def can_export(user: Any) -> bool:
    """Leads and admins export datasets (the management command is for operators)."""
    return has_any_role(user, POLICY_OWNER_ROLES)


@dataclass(frozen=True)
class ExportFilters:
    """Which labels to export. Dates are UTC days, both ends inclusive."""

    policies: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    min_agreement: float | None = None
    golden_only: bool = False
    queue: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The canonical form: recorded on the export and hashed into the fingerprint."""
        return {
            "policies": sorted(set(self.policies)),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "sources": sorted(set(self.sources)),
            "min_agreement": self.min_agreement,
            "golden_only": self.golden_only,
            "queue": self.queue,
        }


@dataclass(frozen=True)
class ExportSpec:
    format: str
    filters: ExportFilters = field(default_factory=ExportFilters)
    splits: tuple[float, ...] = DEFAULT_SPLITS
    seed: int = 0
    with_decisions: bool = False


def parse_list(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """``["a,b", "c"]`` or ``"a,b"`` -> ``("a", "b", "c")``: repeatable options and comma lists."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def parse_day(text: str | None, *, name: str) -> date | None:
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise ValidationFailed(
            f"{name} must be an ISO date (YYYY-MM-DD), not {text!r}.",
            {"fields": {name: "Not an ISO date."}},
        ) from error


def parse_splits(text: str | Sequence[float] | None) -> tuple[float, ...]:
    """``"0.8,0.1,0.1"`` -> (train, validation, test) fractions: one to three, summing to 1."""
    if text is None:
        return DEFAULT_SPLITS
    try:
        values = (
            tuple(float(part) for part in text.split(","))
            if isinstance(text, str)
            else tuple(float(part) for part in text)
        )
    except ValueError as error:
        raise ValidationFailed(
            f"splits must be numbers separated by commas, like 0.8,0.1,0.1, not {text!r}.",
            {"fields": {"splits": "Not a list of numbers."}},
        ) from error
    problem = _splits_problem(values)
    if problem:
        raise ValidationFailed(
            f"Bad split fractions {list(values)}: {problem}.", {"fields": {"splits": problem}}
        )
    return values


def _splits_problem(values: Sequence[float]) -> str:
    if not 1 <= len(values) <= len(SPLIT_NAMES):
        return f"give one to three fractions ({', '.join(SPLIT_NAMES)})"
    if any(not math.isfinite(value) or value < 0 or value > 1 for value in values):
        return "each fraction must be between 0 and 1"
    if abs(sum(values) - 1.0) > 1e-6:
        return f"the fractions must sum to 1 (they sum to {sum(values):g})"
    return ""


def neutralise_formula(value: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with ``'`` so it stays text."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


class SplitAssigner:
    """Maps an item id to its split: ``sha256(f"{seed}:{item_id}")`` in [0, 1) against the
    cumulative fractions (see the module docstring for why a hash and not a per-stratum sort)."""

    def __init__(self, *, seed: int, splits: Sequence[float]) -> None:
        self.seed = seed
        self.bounds: list[tuple[int, str]] = []
        cumulative = 0.0
        for name, fraction in zip(SPLIT_NAMES, splits, strict=False):
            cumulative += fraction
            if fraction > 0:
                self.bounds.append((min(int(cumulative * 2**64), 2**64), name))
        # Rounding may leave the last bound a hair under 2**64: the top belongs to the last split.
        self.bounds[-1] = (2**64, self.bounds[-1][1])

    def __call__(self, item_id: int) -> str:
        point = int.from_bytes(
            hashlib.sha256(f"{self.seed}:{item_id}".encode()).digest()[:8], "big"
        )
        for bound, name in self.bounds:
            if point < bound:
                return name
        return self.bounds[-1][1]  # pragma: no cover - the last bound is 2**64
