"""The export service: validate, stream, write, record a DatasetExport."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from labeling.export.datasheet import (
    _agreement_summary,
    _counts,
    _distribution,
    _file_entry,
    _krippendorff,
    _policy_versions,
    _Tally,
    _tool,
    datasheet_markdown,
)
from labeling.export.rows import (
    _canonical,
    _fingerprint_header,
    _fingerprint_line,
    _Keyed,
    _row_batches,
    _secret_key,
    _with_reviewers,
    labels_matching,
    reviewer_pseudonym_key,
)
from labeling.export.spec import (
    BATCH_ROWS,
    FIELD_DESCRIPTIONS,
    SPLIT_NAMES,
    ExportSpec,
    SplitAssigner,
    _splits_problem,
)
from labeling.export.writers import RowWriter, _fields, _writer
from labeling.models import (
    DatasetExport,
    ExportFormat,
    Label,
)
from labeling.services import audit_record
from reviewtool.exceptions import Conflict, ValidationFailed


@dataclass
class _Pass:
    fingerprint: str
    tally: _Tally
    files: list[tuple[str, str | None]]


def _run_pass(
    queryset: QuerySet[Label],
    spec: ExportSpec,
    *,
    writer: RowWriter | None,
    pseudonym: _Keyed | None,
    batch_rows: int,
) -> _Pass:
    digest = hashlib.sha256(_fingerprint_header(spec))
    identity_token = _Keyed(_secret_key("reviewtool.export.identity"))
    tally = _Tally()
    assign = SplitAssigner(seed=spec.seed, splits=spec.splits)
    for batch in _row_batches(
        queryset, assign=assign, with_decisions=spec.with_decisions, batch_rows=batch_rows
    ):
        tally.add_batch(batch)
        digest.update(
            b"".join(
                _fingerprint_line(
                    _with_reviewers(row, identity_token) if spec.with_decisions else row
                )
                for row in batch
            )
        )
        if writer is not None:
            writer.write(
                [_with_reviewers(row, pseudonym) for row in batch]
                if spec.with_decisions and pseudonym is not None
                else batch
            )
    files = writer.close() if writer is not None else []
    return _Pass(fingerprint=digest.hexdigest(), tally=tally, files=files)


def _validate(spec: ExportSpec) -> None:
    if spec.format not in ExportFormat.values:
        raise ValidationFailed(
            f"Unknown format {spec.format!r} (one of {', '.join(ExportFormat.values)}).",
            {"fields": {"format": "Unknown format."}},
        )
    problem = _splits_problem(spec.splits)
    if problem:
        raise ValidationFailed(
            f"Bad split fractions {list(spec.splits)}: {problem}.", {"fields": {"splits": problem}}
        )


def _prepare_out_dir(out_dir: Path) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValidationFailed(f"The output folder {out_dir} exists and is not empty.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))


def dataset_export(
    *, spec: ExportSpec, out_dir: Path, actor: Any = None, batch_rows: int = BATCH_ROWS
) -> DatasetExport:
    """Write the labels ``spec`` selects into ``out_dir`` with a datasheet; record the snapshot.

    Nothing is written (no folder, no DatasetExport row) when the filters match no label: that
    is a ValidationFailed naming the filters. Files go to a hidden sibling folder first and are
    moved into ``out_dir`` (which must not exist or be empty) only when complete.
    """
    _validate(spec)
    queryset = labels_matching(spec.filters)
    if not queryset.exists():
        raise ValidationFailed(
            f"no labels match these filters: {_canonical(spec.filters.as_json())}",
            {"filters": spec.filters.as_json()},
        )
    out_dir = Path(out_dir).resolve()
    staging = _prepare_out_dir(out_dir)
    try:
        pseudonym = None
        first: _Pass | None = None
        if spec.with_decisions:
            first = _run_pass(queryset, spec, writer=None, pseudonym=None, batch_rows=batch_rows)
            pseudonym = _Keyed(reviewer_pseudonym_key(first.fingerprint))
        writer = _writer(spec.format, staging, with_decisions=spec.with_decisions)
        written = _run_pass(
            queryset, spec, writer=writer, pseudonym=pseudonym, batch_rows=batch_rows
        )
        if written.tally.rows == 0:
            raise ValidationFailed(
                f"no labels match these filters: {_canonical(spec.filters.as_json())}",
                {"filters": spec.filters.as_json()},
            )
        if first is not None and written.fingerprint != first.fingerprint:
            raise Conflict("The labels changed while they were exported; run the export again.")
        alphas = _krippendorff(queryset, {policy for _, policy, _ in written.tally.by_split_label})
        sheet = _datasheet(
            spec,
            written,
            alphas=alphas,
            staging=staging,
            item_count=queryset.order_by().values("item_id").distinct().count(),
        )
        (staging / "datasheet.json").write_text(
            json.dumps(sheet, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (staging / "DATASHEET.md").write_text(datasheet_markdown(sheet), encoding="utf-8")
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    with transaction.atomic():
        export = DatasetExport.objects.create(
            format=spec.format,
            filters=spec.filters.as_json(),
            fingerprint=written.fingerprint,
            path=str(out_dir),
            datasheet=sheet,
            row_count=written.tally.rows,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            action="dataset.export",
            obj=export,
            data={"fingerprint": export.fingerprint, "rows": export.row_count},
        )
    return export


def _datasheet(
    spec: ExportSpec, written: _Pass, *, alphas: Mapping[str, Any], staging: Path, item_count: int
) -> dict[str, Any]:
    tally = written.tally
    fields = _fields(spec.with_decisions)
    return {
        "fingerprint": written.fingerprint,
        "created_at": timezone.now().astimezone(UTC).isoformat(),
        "tool": _tool(),
        "format": spec.format,
        "filters": spec.filters.as_json(),
        "seed": spec.seed,
        "splits": dict(zip(SPLIT_NAMES, spec.splits, strict=False)),
        "split_method": "sha256(seed:item_id) against cumulative fractions; stratified by "
        "label in expectation, one split per item across policies",
        "with_decisions": spec.with_decisions,
        "reviewer_ids": (
            "pseudonymous: HMAC-SHA256 of the user id (or anonymous coder name) under a key "
            "derived from the server secret and this fingerprint"
            if spec.with_decisions
            else "not included"
        ),
        "row_count": tally.rows,
        "item_count": item_count,
        "golden_rows": tally.golden,
        "counts": _counts(tally),
        "label_distribution": _distribution(tally),
        "agreement": _agreement_summary(tally, alphas),
        "policy_versions": _policy_versions(tally),
        "fields": [{"name": name, "description": FIELD_DESCRIPTIONS[name]} for name in fields],
        "files": [_file_entry(staging / name, split) for name, split in written.files],
    }


def export_store_dir() -> Path:
    """Where exports requested through the API and the web page are written."""
    return Path(settings.REVIEWTOOL_EXPORT_DIR)


def dataset_export_to_store(*, spec: ExportSpec, actor: Any) -> DatasetExport:
    """An export into its own new folder under ``REVIEWTOOL_EXPORT_DIR`` (API and web page)."""
    name = f"{timezone.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
    return dataset_export(spec=spec, out_dir=export_store_dir() / name, actor=actor)


def export_file(export: DatasetExport, filename: str) -> Path | None:
    """The path of one of the export's listed files, or None: only names the datasheet lists
    (plus the datasheets) inside the export's own folder are served, never a path."""
    listed = {entry.get("name") for entry in export.datasheet.get("files", [])}
    listed |= {"datasheet.json", "DATASHEET.md"}
    if filename not in listed or "/" in filename or "\\" in filename or filename.startswith("."):
        return None
    folder = Path(export.path).resolve()
    candidate = (folder / filename).resolve()
    if candidate.parent != folder or not candidate.is_file():
        return None
    return candidate
