"""``manage.py export_dataset --format csv|jsonl|parquet|hf --out DIR [filters]``."""

from __future__ import annotations

from argparse import RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.export import (
    ExportFilters,
    ExportSpec,
    dataset_export,
    parse_day,
    parse_list,
    parse_splits,
)
from labeling.models import ExportFormat
from reviewtool.exceptions import ApplicationError

HELP = """Export resolved labels as a versioned, reproducible dataset with a datasheet.

One row per label (item id, external id, source, text, language, metadata, policy, policy
version, label, label source, agreement, confidence, label time, split, golden flag). Rows are
streamed from the database and written in batches, so memory stays flat. The output folder gets
the data, datasheet.json and DATASHEET.md, and the export is recorded (DatasetExport) with its
fingerprint: the same filters, seed and splits over the same data give the same fingerprint.

Formats:
  csv      data.csv, UTF-8 with a header; cells starting with = + - @ TAB CR get a leading '
  jsonl    data.jsonl, one JSON object per line
  parquet  data.parquet with a split column
  hf       train.parquet, validation.parquet, test.parquet for
           datasets.load_dataset("parquet", data_files={...})

Splits: an item's split is sha256("<seed>:<item id>") against the cumulative fractions, so it
is deterministic, the same under every policy, and stratified by label in expectation.
This command is for operators and checks no role; leads use the API or the Exports page.
"""


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", required=True, choices=[value.value for value in ExportFormat]
        )
        parser.add_argument("--out", required=True, type=Path, help="output folder (new, or empty)")
        parser.add_argument(
            "--policy",
            action="append",
            help="policy slug; repeat the option or give a comma list (default: all)",
        )
        parser.add_argument("--since", help="labels created on or after this UTC day (ISO date)")
        parser.add_argument("--until", help="labels created on or before this UTC day")
        parser.add_argument(
            "--source",
            action="append",
            help="label sources: consensus, adjudication, import (comma list or repeated)",
        )
        parser.add_argument(
            "--min-agreement", type=float, help="only labels with at least this agreement"
        )
        parser.add_argument("--golden-only", action="store_true", help="only active golden items")
        parser.add_argument("--queue", help="only items of this queue (slug)")
        parser.add_argument(
            "--splits", default="0.8,0.1,0.1", help="train,validation,test (default 0.8,0.1,0.1)"
        )
        parser.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
        parser.add_argument(
            "--with-decisions",
            action="store_true",
            help="add each row's decisions with pseudonymous reviewer ids",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            spec = ExportSpec(
                format=options["format"],
                filters=ExportFilters(
                    policies=parse_list(options["policy"]),
                    since=parse_day(options["since"], name="since"),
                    until=parse_day(options["until"], name="until"),
                    sources=parse_list(options["source"]),
                    min_agreement=options["min_agreement"],
                    golden_only=options["golden_only"],
                    queue=options["queue"] or None,
                ),
                splits=parse_splits(options["splits"]),
                seed=options["seed"],
                with_decisions=options["with_decisions"],
            )
            export = dataset_export(spec=spec, out_dir=options["out"])
        except ApplicationError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            f"Exported {export.row_count} labels ({export.format}) to {export.path}\n"
            f"fingerprint {export.fingerprint} (DatasetExport {export.pk})"
        )
        for entry in export.datasheet["files"]:
            self.stdout.write(f"  {entry['name']}  {entry['bytes']} bytes")
