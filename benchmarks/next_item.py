"""Next-item benchmark: concurrent reviewers leasing and deciding through the real services.

    python -m benchmarks.next_item --items 100000 --reviewers 20 --out FILE \
        [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--duration 60 | --claims N]

It creates a fresh database on the server of ``--database-url`` (that URL is only used to connect
for ``CREATE DATABASE``), migrates it, ingests the items through ``items_ingest`` in batches, then
runs one client per reviewer, each looping ``lease_next`` + ``decision_submit``. Clients are
processes by default (threads of one process would share the GIL); ``--clients threads`` is what
the integration test uses. After the run it checks the database: no slot decided twice, no item
with more decisions than its overlap, no reviewer deciding one item twice, no lease granted twice,
and no decision a client was told about missing from the database. The database is dropped at the
end unless ``--keep-database``.

Measured, not asserted: the numbers go to the JSON file.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres"
INGEST_BATCH = 5000


# --- a fresh database ----------------------------------------------------------------------------


def database_url_with_name(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def admin_connection(server_url: str) -> Any:
    import psycopg2

    parts = urlsplit(server_url)
    connection = psycopg2.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname=parts.path.lstrip("/") or "postgres",
        connect_timeout=5,
    )
    connection.autocommit = True
    return connection


@contextmanager
def fresh_database(server_url: str, *, prefix: str, keep: bool = False) -> Iterator[str]:
    """Create ``<prefix>_<random>`` on the server, yield its URL, drop it afterwards."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = admin_connection(server_url)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield database_url_with_name(server_url, name)
    finally:
        if not keep:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def django_setup(database_url: str, var_dir: str) -> None:
    """Configure Django for this process; the environment is inherited by spawned clients."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["REVIEWTOOL_VAR_DIR"] = var_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "reviewtool.settings"
    import django

    django.setup()


# --- seeding -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    queue_id: int
    reviewer_ids: list[int]
    policy_slug: str
    labels: list[str]
    ingest_seconds: float


def seed(*, items: int, reviewers: int, overlap: int, seed_value: int) -> Seeded:
    """A policy, a queue with ``reviewers`` members and ``items`` items, through the services."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from labeling import services
    from labeling.models import Roles

    rng = random.Random(seed_value)
    policy = services.policy_create(slug="bench", name="Benchmark policy")
    group, _ = Group.objects.get_or_create(name=Roles.REVIEWER)
    users = []
    for number in range(reviewers):
        user = get_user_model().objects.create_user(username=f"bench-reviewer-{number}")
        user.groups.add(group)
        users.append(user)
    queue = services.queue_create(
        slug="bench",
        name="Benchmark",
        policies=[policy],
        overlap=overlap,
        lease_seconds=3600,
        reviewers=users,
    )
    start = datetime.now(UTC) - timedelta(days=7)
    began = time.perf_counter()
    for offset in range(0, items, INGEST_BATCH):
        batch = [
            services.ItemInput(
                external_id=f"bench-{number}",
                text=f"benchmark item {number}",
                priority=rng.random(),
                received_at=start + timedelta(seconds=number),
            )
            for number in range(offset, min(items, offset + INGEST_BATCH))
        ]
        services.items_ingest(queue=queue, items=batch, source="bench")
    ingest_seconds = time.perf_counter() - began
    if connection.vendor == "postgresql":
        # Fresh tables have no statistics until autovacuum gets to them; a running deployment has.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return Seeded(
        queue_id=queue.pk,
        reviewer_ids=[user.pk for user in users],
        policy_slug=policy.slug,
        labels=list(policy.labels),
        ingest_seconds=ingest_seconds,
    )


# --- one client ----------------------------------------------------------------------------------


def declare_broker_queues() -> None:
    """Bind the task queues once, before the clients start: kombu's filesystem transport creates
    its exchange file unlocked, and 20 processes doing that at once read it half-written."""
    from reviewtool.celery import app

    with app.connection_for_write() as connection:
        for queue in app.amqp.queues.values():
            queue(connection.default_channel).declare()


def warm_up() -> None:
    """Pay up front what a running web process has paid before its first request: the URL
    modules (which import the machine side) and Celery's task registry, which the first
    ``enqueue`` after a decision would otherwise load (10+ s on a busy 2-core box)."""
    from django.urls import get_resolver

    from reviewtool.celery import app

    get_resolver().url_patterns  # noqa: B018 - the attribute access imports every URL module
    app.loader.import_default_modules()
    app.finalize(auto=True)


@dataclass
class ClientResult:
    reviewer_id: int
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    granted_lease_ids: list[int] = field(default_factory=list)
    decision_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exhausted: bool = False
    started: float = 0.0
    finished: float = 0.0


def claim_loop(
    *,
    queue_id: int,
    reviewer_id: int,
    policy_slug: str,
    labels: Sequence[str],
    claims: int | None,
    deadline: float | None,
    seed_value: int,
) -> ClientResult:
    """Lease and decide until ``claims`` decisions, ``deadline`` (time.time()) or an empty queue."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labeling import services
    from labeling.models import Queue

    rng = random.Random(seed_value)
    result = ClientResult(reviewer_id=reviewer_id)
    try:
        queue = Queue.objects.get(pk=queue_id)
        reviewer = get_user_model().objects.get(pk=reviewer_id)
        result.started = time.time()
        while (claims is None or len(result.decision_ids) < claims) and (
            deadline is None or time.time() < deadline
        ):
            began = time.perf_counter()
            lease = services.lease_next(queue=queue, reviewer=reviewer)
            result.next_ms.append((time.perf_counter() - began) * 1000)
            if lease is None:
                result.exhausted = True
                break
            result.granted_lease_ids.append(lease.pk)
            began = time.perf_counter()
            try:
                decision = services.decision_submit(
                    token=str(lease.token),
                    reviewer=reviewer,
                    verdicts={policy_slug: rng.choice(list(labels))},
                    idempotency_key=str(uuid.uuid4()),
                )
            except Exception as error:  # every failure is counted; none is expected
                result.errors.append(f"decision_submit: {type(error).__name__}: {error}")
                continue
            result.submit_ms.append((time.perf_counter() - began) * 1000)
            result.decision_ids.append(decision.pk)
    except Exception as error:  # e.g. a deadlock in lease_next: counted and reported
        result.errors.append(f"{type(error).__name__}: {error}")
    finally:
        result.finished = time.time()
        connection.close()
    return result


def _client_process(
    kwargs: dict[str, Any],
    duration: float | None,
    barrier: Any,
    results: Any,
    database_url: str,
    var_dir: str,
) -> None:
    django_setup(database_url, var_dir)
    warm_up()
    barrier.wait()
    # The clock starts once every client has set Django up: the barrier releases them together.
    deadline = None if duration is None else time.time() + duration
    results.put(asdict(claim_loop(**kwargs, deadline=deadline)))


def run_clients(
    *,
    seeded: Seeded,
    mode: str,
    claims: int | None,
    duration: float | None,
    seed_value: int,
    database_url: str,
    var_dir: str,
) -> list[ClientResult]:
    """One client per reviewer; all start together (after their Django setup)."""
    from django.db import connections

    connections.close_all()

    def arguments(index: int, reviewer_id: int) -> dict[str, Any]:
        return {
            "queue_id": seeded.queue_id,
            "reviewer_id": reviewer_id,
            "policy_slug": seeded.policy_slug,
            "labels": seeded.labels,
            "claims": claims,
            "seed_value": seed_value + index,
        }

    if mode == "threads":
        warm_up()
        collected: list[ClientResult] = []
        lock = threading.Lock()
        deadline = None if duration is None else time.time() + duration

        def run(index: int, reviewer_id: int) -> None:
            outcome = claim_loop(**arguments(index, reviewer_id), deadline=deadline)
            with lock:
                collected.append(outcome)

        threads = [
            threading.Thread(target=run, args=(index, reviewer_id))
            for index, reviewer_id in enumerate(seeded.reviewer_ids)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return collected

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(seeded.reviewer_ids) + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=_client_process,
            args=(arguments(index, reviewer_id), duration, barrier, results, database_url, var_dir),
        )
        for index, reviewer_id in enumerate(seeded.reviewer_ids)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    gathered = [ClientResult(**results.get()) for _ in processes]
    for process in processes:
        process.join()
    return gathered


# --- verification --------------------------------------------------------------------------------


def verify(*, queue_id: int, overlap: int, clients: Sequence[ClientResult]) -> dict[str, int]:
    """Count, from the database, every way a slot could have gone to two reviewers or a decision
    could have been lost."""
    from django.db.models import Count

    from labeling.models import Decision

    decisions = Decision.objects.filter(item__queue_id=queue_id)
    returned = [decision_id for client in clients for decision_id in client.decision_ids]
    stored = set(decisions.values_list("id", flat=True))
    granted = [lease_id for client in clients for lease_id in client.granted_lease_ids]
    return {
        "decisions_returned": len(returned),
        "decisions_stored": len(stored),
        "lost_decisions": len(set(returned) - stored),
        "unreported_decisions": len(stored - set(returned)),
        "slots_decided_twice": decisions.values("lease_id")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
        .count(),
        "items_over_overlap": decisions.values("item_id")
        .annotate(count=Count("id"))
        .filter(count__gt=overlap)
        .count(),
        "items_decided_twice_by_one_reviewer": decisions.values("item_id", "reviewer_id")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
        .count(),
        "leases_granted_twice": len(granted) - len(set(granted)),
        "client_errors": sum(len(client.errors) for client in clients),
    }


# --- the run -------------------------------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    import numpy as np

    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "count": 0}
    array = np.asarray(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 2),
        "p95": round(float(np.percentile(array, 95)), 2),
        "p99": round(float(np.percentile(array, 99)), 2),
        "mean": round(float(array.mean()), 2),
        "count": len(values),
    }


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    claims = arguments.claims
    duration = None if claims is not None else float(arguments.duration)
    if arguments.broker_url:
        os.environ["CELERY_BROKER_URL"] = arguments.broker_url
    with (
        tempfile.TemporaryDirectory(prefix="reviewtool-bench-") as var_dir,
        fresh_database(
            arguments.database_url, prefix="reviewtool_bench", keep=arguments.keep_database
        ) as database_url,
    ):
        django_setup(database_url, var_dir)
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        declare_broker_queues()
        seeded = seed(
            items=arguments.items,
            reviewers=arguments.reviewers,
            overlap=arguments.overlap,
            seed_value=arguments.seed,
        )
        began = time.time()
        load_before = os.getloadavg()[0]
        clients = run_clients(
            seeded=seeded,
            mode=arguments.clients,
            claims=claims,
            duration=duration,
            seed_value=arguments.seed,
            database_url=database_url,
            var_dir=var_dir,
        )
        elapsed = max(client.finished for client in clients) - min(
            client.started for client in clients
        )
        checks = verify(queue_id=seeded.queue_id, overlap=arguments.overlap, clients=clients)
        vendor = connection.vendor
        server_version = connection.cursor().connection.server_version
        connection.close()
        broker = settings.CELERY_BROKER_URL.split("://")[0]
    next_ms = [value for client in clients for value in client.next_ms]
    submit_ms = [value for client in clients for value in client.submit_ms]
    return {
        "benchmark": "next_item",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "path": "services (labeling.services.lease_next + decision_submit), no HTTP",
        "clients": arguments.clients,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # Other work on the machine shows here; latencies on a busy box are queueing for CPU.
            "load_average_1m": {"before": load_before, "after": os.getloadavg()[0]},
        },
        "database": {"vendor": vendor, "server_version": server_version},
        "broker": broker,
        "items": arguments.items,
        "reviewers": arguments.reviewers,
        "overlap": arguments.overlap,
        "claims_per_reviewer": claims,
        "duration_s": duration,
        "seed": arguments.seed,
        "ingest": {
            "seconds": round(seeded.ingest_seconds, 2),
            "items_per_s": round(arguments.items / seeded.ingest_seconds, 1),
        },
        "wall_s": round(elapsed, 2),
        "setup_to_end_s": round(time.time() - began, 2),
        "next_item_ms": percentiles(next_ms),
        "decision_submit_ms": percentiles(submit_ms),
        "decisions_per_s": round(len(submit_ms) / elapsed, 1) if elapsed > 0 else None,
        "clients_exhausted": sum(client.exhausted for client in clients),
        "double_assignments": checks["slots_decided_twice"]
        + checks["items_over_overlap"]
        + checks["items_decided_twice_by_one_reviewer"]
        + checks["leases_granted_twice"],
        "lost_decisions": checks["lost_decisions"],
        "checks": checks,
        "errors": sorted({error for client in clients for error in client.errors})[:20],
    }


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--out", required=True, help="JSON file to write ('-' for stdout)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("REVIEWTOOL_TEST_DATABASE_URL", DEFAULT_SERVER_URL),
        help="a PostgreSQL server to create the benchmark database on",
    )
    parser.add_argument(
        "--broker-url", default="", help="default: the filesystem broker in a temporary folder"
    )
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--duration", type=float, default=60.0, help="seconds of load (default)")
    stop.add_argument("--claims", type=int, default=None, help="decisions per reviewer")
    parser.add_argument("--clients", choices=("processes", "threads"), default="processes")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--keep-database", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    result = run(arguments)
    text = json.dumps(result, indent=2, sort_keys=False)
    if arguments.out == "-":
        print(text)
    else:
        with open(arguments.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
