"""Parquet export benchmark: the real export service over up to a million labels.

    python -m benchmarks.export_parquet --labels 1000000 \
        --out benchmarks/results/export_parquet.json [--checkpoints 100000,300000] \
        [--database-url postgres://postgres@127.0.0.1:5432/postgres]

It creates a fresh database (SQLite under a temporary folder by default; with ``--database-url``
a new PostgreSQL database on that server, dropped afterwards), migrates it, and bulk-inserts items
with two labels each (policies "hate" and "spam", 2% golden items, metadata on every item). At
each checkpoint (and at ``--labels``) it runs ``labeling.export.dataset_export`` to Parquet in a
child process, so that each measurement's peak RSS (``ru_maxrss``) is that export's own; the
child also reports its RSS after start-up (Django, pyarrow imported), so the export's own growth
is visible. Flat memory means the peak stays about the same from 100k to 1M rows.

Measured, not asserted: the numbers go to the JSON file, with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

INSERT_BATCH = 10_000
WORDS = [
    *("free", "offer", "click", "now", "buy", "cheap", "meds", "hello", "friend", "meeting"),
    *("tomorrow", "lunch", "idiot", "hate", "love", "great", "service", "terrible", "product"),
    *("refund", "scam", "winner", "prize", "call", "today", "limited", "deal", "report"),
]


def _setup_django(database_url: str, var_dir: Path) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["REVIEWTOOL_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewtool.settings")
    import django

    django.setup()


def _rss_mib() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _current_rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover - Linux only


def populate(*, start_items: int, end_items: int, seed: int) -> None:
    """Items ``start_items`` .. ``end_items - 1``, each with a hate and a spam label."""
    from django.db import transaction
    from django.utils import timezone

    from labeling.models import GoldenItem, Item, Label, LabelSource, Policy, Queue

    rng = random.Random(seed + start_items)
    hate, spam = Policy.objects.get(slug="hate"), Policy.objects.get(slug="spam")
    queue = Queue.objects.get(slug="bench")
    now = timezone.now()
    for low in range(start_items, end_items, INSERT_BATCH):
        high = min(low + INSERT_BATCH, end_items)
        with transaction.atomic():
            items = Item.objects.bulk_create(
                Item(
                    queue=queue,
                    source="bench",
                    external_id=f"b{number}",
                    text=" ".join(rng.choices(WORDS, k=rng.randint(5, 25))),
                    metadata={"author": f"user{number % 977}", "n": number},
                    language="en",
                    received_at=now,
                    status="resolved",
                )
                for number in range(low, high)
            )
            Label.objects.bulk_create(
                Label(
                    item=item,
                    policy=policy,
                    value=rng.choice(policy.labels),
                    source=rng.choice(
                        (LabelSource.CONSENSUS, LabelSource.CONSENSUS, LabelSource.IMPORT)
                    ),
                    agreement=rng.choice((1.0, 1.0, 0.67, 0.5, None)),
                    confidence=rng.random(),
                )
                for item in items
                for policy in (hate, spam)
            )
            GoldenItem.objects.bulk_create(
                GoldenItem(item=item, expected={"hate": "violating"})
                for item in items
                if item.pk % 50 == 0
            )


def child_export(out_dir: Path) -> dict[str, Any]:
    """Runs in the child process: one Parquet export, timed, with this process's peak RSS."""
    import pyarrow.parquet  # noqa: F401  (imported before the baseline, like the export does)

    from labeling.export import ExportSpec, dataset_export

    baseline = _current_rss_mib()
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    export = dataset_export(spec=ExportSpec(format="parquet"), out_dir=out_dir)
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu_seconds() - cpu_started
    return {
        "rows": export.row_count,
        "seconds": round(seconds, 2),
        "rows_per_second": round(export.row_count / seconds),
        # Wall time on a shared, loaded box says more about the neighbours than about us.
        "cpu_seconds": round(cpu_seconds, 2),
        "peak_rss_mib": round(_rss_mib(), 1),
        "rss_after_startup_mib": round(baseline, 1),
        "peak_growth_mib": round(_rss_mib() - baseline, 1),
        "file_mib": round((out_dir / "data.parquet").stat().st_size / 2**20, 1),
        "fingerprint": export.fingerprint,
    }


def measure(database_url: str, var_dir: Path, out_dir: Path) -> dict[str, Any]:
    completed = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "benchmarks.export_parquet", "--child", str(out_dir)],
        env={**os.environ, "DATABASE_URL": database_url, "REVIEWTOOL_VAR_DIR": str(var_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--checkpoints", default="100000,300000")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite, temporary)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewtool.settings")
        import django

        django.setup()
        print(json.dumps(child_export(args.child)))
        return 0

    targets = sorted({int(value) for value in args.checkpoints.split(",") if value} | {args.labels})
    targets = [target for target in targets if target <= args.labels]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="export-bench-") as temporary:
        folder = Path(temporary)
        database: AbstractContextManager[str]
        if args.database_url:
            from benchmarks.next_item import fresh_database

            database = fresh_database(args.database_url, prefix="export_bench")
        else:
            database = nullcontext(f"sqlite:///{folder / 'bench.sqlite3'}")
        with database as database_url:
            _setup_django(database_url, folder / "var")
            from django.core.management import call_command

            from labeling import services

            call_command("migrate", verbosity=0)
            hate = services.policy_create(slug="hate", name="Hate")
            spam = services.policy_create(slug="spam", name="Spam")
            services.queue_create(slug="bench", name="Bench", policies=[hate, spam])
            runs = []
            items_done = 0
            for target in targets:
                started = time.perf_counter()
                populate(start_items=items_done, end_items=target // 2, seed=args.seed)
                insert_seconds = time.perf_counter() - started
                items_done = target // 2
                from django.db import connections

                connections.close_all()
                run = measure(database_url, folder / "var", folder / f"export-{target}")
                run["insert_seconds"] = round(insert_seconds, 1)
                run["load_average_1m"] = round(os.getloadavg()[0], 2)
                print(json.dumps(run), flush=True)
                runs.append(run)
            import django
            import pyarrow

            result = {
                "benchmark": "export_parquet",
                "created_at": datetime.now(UTC).isoformat(),
                "database": "postgresql" if args.database_url else "sqlite",
                "labels": args.labels,
                "seed": args.seed,
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average_before": [round(value, 2) for value in load_before],
                    "load_average_after": [round(value, 2) for value in os.getloadavg()],
                },
                "versions": {"django": django.get_version(), "pyarrow": pyarrow.__version__},
                "runs": runs,
                "notes": "one child process per export; peak_rss_mib is that process's "
                "ru_maxrss, rss_after_startup_mib its RSS after importing Django and pyarrow",
            }
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
