"""A real ``celery worker`` process picks up the stats refresh: enqueued directly, and enqueued by
``decision_submit`` through ``transaction.on_commit``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest

from tests.integration.conftest import (
    celery_worker,
    manage,
    run_driver,
    service_env,
    wait_until,
)

Stats = dict[str, int]
STATS_SQL = (
    "SELECT pending, in_review, resolved, decisions_last_hour FROM labeling_queuestats "
    "WHERE queue_id = {placeholder}"
)
STATS_FIELDS = ("pending", "in_review", "resolved", "decisions_last_hour")


def sqlite_stats(path: Path) -> Callable[[int], Stats | None]:
    def read(queue_id: int) -> Stats | None:
        with sqlite3.connect(path) as connection:
            row = connection.execute(STATS_SQL.format(placeholder="?"), (queue_id,)).fetchone()
        return dict(zip(STATS_FIELDS, row, strict=True)) if row else None

    return read


def postgres_stats(url: str) -> Callable[[int], Stats | None]:
    def read(queue_id: int) -> Stats | None:
        connection = psycopg2.connect(url)
        try:
            with connection.cursor() as cursor:
                cursor.execute(STATS_SQL.format(placeholder="%s"), (queue_id,))
                row = cursor.fetchone()
        finally:
            connection.close()
        return dict(zip(STATS_FIELDS, row, strict=True)) if row else None

    return read


def assert_worker_refreshes_stats(
    env: dict[str, str], log_path: Path, read_stats: Callable[[int], Stats | None]
) -> None:
    made = run_driver(env, "queue", "--items", "3")
    queue_id = made["queue_id"]
    assert read_stats(queue_id) is None

    with celery_worker(env, log_path):
        run_driver(env, "enqueue-refresh", str(queue_id))
        expected = {"pending": 3, "in_review": 0, "resolved": 0, "decisions_last_hour": 0}
        wait_until(
            lambda: read_stats(queue_id) == expected,
            timeout=60,
            what=f"QueueStats {expected} (log: {log_path})",
        )

        run_driver(env, "decide", str(queue_id), str(made["reviewer_id"]))
        expected = {"pending": 2, "in_review": 0, "resolved": 1, "decisions_last_hour": 1}
        wait_until(
            lambda: read_stats(queue_id) == expected,
            timeout=60,
            what=f"QueueStats {expected} after a decision (log: {log_path})",
        )
    assert "labeling.refresh_queue_stats" in log_path.read_text()


@pytest.mark.integration
def test_a_worker_on_the_filesystem_broker_refreshes_queue_stats(tmp_path):
    # The embedded default: SQLite and kombu's filesystem transport under REVIEWTOOL_VAR_DIR.
    env = service_env(tmp_path)
    manage(env, "migrate", "--noinput", "-v0")

    assert_worker_refreshes_stats(
        env, tmp_path / "worker.log", sqlite_stats(tmp_path / "reviewtool.sqlite3")
    )


@pytest.mark.integration
def test_a_worker_on_redis_and_postgresql_refreshes_queue_stats(
    tmp_path, postgres_database, redis_url
):
    env = service_env(tmp_path, DATABASE_URL=postgres_database, CELERY_BROKER_URL=redis_url)

    assert_worker_refreshes_stats(env, tmp_path / "worker.log", postgres_stats(postgres_database))
