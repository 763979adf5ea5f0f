"""The validation pass of an import: errors with line numbers, duplicate ids, unknown labels.

It runs over the whole file before anything is written, so a bad file imports nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from labeling.importers import MAX_REPORTED_ERRORS, Parsed, RowError


@dataclass
class CheckReport:
    """What a validation pass found: counts, the distinct labels and the first errors."""

    rows: int = 0
    labeled_rows: int = 0
    # Distinct label values in order of first appearance (labels and vote labels).
    labels: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error_lines(self) -> list[str]:
        text = [f"line {error.line}: {error.message}" for error in self.errors]
        if self.error_count > len(self.errors):
            text.append(f"and {self.error_count - len(self.errors)} more")
        return text


def records_check(
    parsed: Iterable[Parsed], *, allowed_labels: Sequence[str] | None, with_labels: bool = True
) -> CheckReport:
    """Validate a record stream: collect errors, reject duplicate ids and unknown labels.

    ``allowed_labels`` is the label set of an existing policy (None: any label, the set is being
    collected). Only the ids are kept in memory, not the rows.
    """
    report = CheckReport()
    first_line_of: dict[str, int] = {}
    seen_labels: dict[str, None] = {}
    allowed = set(allowed_labels) if allowed_labels is not None else None
    for entry in parsed:
        if isinstance(entry, RowError):
            report.add_error(entry)
            continue
        report.rows += 1
        if entry.external_id in first_line_of:
            report.add_error(
                RowError(
                    entry.line,
                    f"duplicate id {entry.external_id!r} "
                    f"(first seen on line {first_line_of[entry.external_id]})",
                )
            )
            continue
        first_line_of[entry.external_id] = entry.line
        if not with_labels:
            continue
        used = [*entry.votes, *([entry.label] if entry.label else [])]
        unknown = sorted({value for value in used if allowed is not None and value not in allowed})
        if unknown:
            report.add_error(
                RowError(
                    entry.line,
                    f"unknown label(s) {', '.join(map(repr, unknown))}; "
                    f"the policy allows {', '.join(map(repr, allowed_labels or []))}",
                )
            )
            continue
        if entry.label:
            report.labeled_rows += 1
        seen_labels.update(dict.fromkeys(used))
    report.labels = list(seen_labels)
    return report
