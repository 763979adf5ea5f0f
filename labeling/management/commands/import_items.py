"""``manage.py import_items PATH --format ... --queue SLUG --policy SLUG``."""

from __future__ import annotations

import sys
from argparse import RawDescriptionHelpFormatter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from labeling.importers import FieldMap, ImportFormat, ProgressCallback
from labeling.imports import ImportSpec, ImportSummary, items_import_file
from reviewtool.exceptions import ApplicationError

HELP = """Import items (and their labels) from a file into a review queue.

The file is read twice, streaming: a validation pass that stores nothing and lists every error
by line number, then, if the file is clean, one transaction that imports it (all or nothing).
Re-running an import creates nothing new: items are matched on (source, id), and labels and
decisions are only added to items created by this run. A missing queue or policy is created; a
new policy takes the labels found in the file (csv/jsonl; the first one seen is its positive
label), the preset's labels (davidson, sms), or the default set.

Formats:
  csv       UTF-8, header line; --text-field, --id-field, --label-field, --metadata-fields name
            columns. A row with an empty label cell is imported without a label.
  jsonl     UTF-8, one JSON object per line; the same options name keys.
  davidson  Davidson et al. 2017 labeled_data.csv: id = the unnamed first column, each vote
            becomes an anonymous import decision, the majority `class` the label.
  sms       SMS Spam Collection (label<TAB>text, no header): id = the line number; mis-decoded
            cp1252 characters are repaired and HTML entities unescaped.
"""


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--format", required=True, choices=[value.value for value in ImportFormat]
        )
        parser.add_argument("--queue", required=True, help="queue slug (created when missing)")
        parser.add_argument("--policy", required=True, help="policy slug (created when missing)")
        parser.add_argument("--text-field", default="text", help="csv/jsonl (default: text)")
        parser.add_argument(
            "--id-field",
            default=None,
            help="csv/jsonl: the column or key with a stable id. Without it the id is the data "
            "row number (1 = first row after the header, blank lines not counted), which is "
            "only stable while the file does not change.",
        )
        parser.add_argument("--label-field", default=None, help="csv/jsonl: the label column")
        parser.add_argument(
            "--metadata-fields",
            default="",
            help="csv/jsonl: comma-separated columns copied into the item's metadata",
        )
        parser.add_argument(
            "--source",
            default=None,
            help="the items' source, part of their identity (default: the format name for "
            "davidson/sms, the file name without extension for csv/jsonl)",
        )
        parser.add_argument("--offset", type=int, default=0, help="skip the first N data rows")
        parser.add_argument("--limit", type=int, default=None, help="import at most N rows")
        parser.add_argument(
            "--without-labels",
            action="store_true",
            help="import the texts only, as pending items for review",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        spec = _spec_from_options(options)
        show_progress = options["verbosity"] > 0

        @contextmanager
        def progress(phase: str, total: int) -> Iterator[ProgressCallback | None]:
            with tqdm(
                total=total,
                desc=phase,
                unit="B",
                unit_scale=True,
                file=sys.stderr,
                disable=not show_progress,
                leave=False,
            ) as bar:
                yield bar.update

        try:
            summary = items_import_file(spec=spec, progress=progress)
        except ApplicationError as error:
            lines = error.extra.get("lines") or []
            raise CommandError("\n  ".join([error.message, *lines])) from error
        self.stdout.write(_describe(spec, summary))


def _spec_from_options(options: dict[str, Any]) -> ImportSpec:
    path: Path = options["path"]
    fmt = ImportFormat(options["format"])
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    if options["offset"] < 0 or (options["limit"] is not None and options["limit"] < 1):
        raise CommandError("--offset must be 0 or more and --limit 1 or more.")
    metadata_fields = tuple(
        name.strip() for name in options["metadata_fields"].split(",") if name.strip()
    )
    generic_options = [
        name
        for name, default in (
            ("text_field", "text"),
            ("id_field", None),
            ("label_field", None),
            ("metadata_fields", ""),
        )
        if options[name] != default
    ]
    if fmt in (ImportFormat.DAVIDSON, ImportFormat.SMS) and generic_options:
        flags = ", ".join("--" + name.replace("_", "-") for name in generic_options)
        raise CommandError(f"{flags}: only for --format csv or jsonl; {fmt} knows its columns.")
    default_source = str(fmt) if fmt in (ImportFormat.DAVIDSON, ImportFormat.SMS) else path.stem
    return ImportSpec(
        path=path,
        fmt=fmt,
        queue_slug=options["queue"],
        policy_slug=options["policy"],
        source=options["source"] or default_source,
        fields=FieldMap(
            text_field=options["text_field"],
            id_field=options["id_field"],
            label_field=None if options["without_labels"] else options["label_field"],
            metadata_fields=metadata_fields,
        ),
        with_labels=not options["without_labels"],
        offset=options["offset"],
        limit=options["limit"],
    )


def _describe(spec: ImportSpec, summary: ImportSummary) -> str:
    created = [
        kind
        for kind, flag in (("policy", summary.policy_created), ("queue", summary.queue_created))
        if flag
    ]
    lines = [
        f"{summary.rows} rows read from {spec.path.name} (source {spec.source!r}): "
        f"{summary.items_created} items created, {summary.items_existing} already there.",
        f"{summary.labels_created} labels and {summary.decisions_created} decisions imported.",
        *([f"{summary.media_attached} media files attached."] if summary.media_attached else []),
        f"Validated in {summary.validate_seconds:.1f} s, imported in "
        f"{summary.write_seconds:.1f} s.",
    ]
    if created:
        lines.append(f"Created {' and '.join(created)}: {spec.policy_slug} / {spec.queue_slug}.")
    return "\n".join(lines)
