"""``manage.py golden_import FILE --actor USERNAME``: make existing items golden from a file."""

from __future__ import annotations

import csv
import json
from argparse import RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.golden import GoldenRow, golden_import
from reviewtool.exceptions import ApplicationError

HELP = """Make existing items golden (honeypots) with their expected verdicts, all or nothing.

JSONL: one object per line, {"source": "...", "external_id": "...", "expected": {"hate": "..."}}.
CSV:   a header with source, external_id and one column per policy slug; an empty cell means no
       expected verdict for that policy.
The actor must be a senior reviewer, lead or admin; the change is audited under their name.
"""


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--actor", required=True, help="username of the curator")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        actor = get_user_model().objects.filter(username=options["actor"]).first()
        if actor is None:
            raise CommandError(f"No user {options['actor']!r}.")
        try:
            rows = _read(path)
            result = golden_import(rows=rows, actor=actor)
        except (OSError, ValueError) as error:
            raise CommandError(f"{path}: {error}") from error
        except ApplicationError as error:
            raise CommandError(f"{error.message} {json.dumps(error.extra)}") from error
        self.stdout.write(f"{result.added} golden items added, {result.updated} updated.")


def _read(path: Path) -> list[GoldenRow]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return [_csv_row(line) for line in csv.DictReader(handle)]
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("expected"), dict):
                raise ValueError(f"line {number}: expected an object with an 'expected' object")
            rows.append(
                GoldenRow(
                    source=str(record.get("source", "")),
                    external_id=str(record.get("external_id", "")),
                    expected={str(k): str(v) for k, v in record["expected"].items()},
                )
            )
    return rows


def _csv_row(line: dict[str, str]) -> GoldenRow:
    expected = {
        slug: value
        for slug, value in line.items()
        if slug not in ("source", "external_id") and slug and value
    }
    return GoldenRow(
        source=line.get("source", ""), external_id=line.get("external_id", ""), expected=expected
    )
