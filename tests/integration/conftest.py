"""Real services for integration tests: a fresh PostgreSQL database, Redis, a Celery worker process.

Django in the test process stays on the unit suite's SQLite; work against PostgreSQL runs in
subprocesses (``tests.integration.driver``, ``celery worker``, the benchmark harness) that get the
database and broker through the environment, exactly as a deployment does. Without
``REVIEWTOOL_TEST_DATABASE_URL`` / ``REVIEWTOOL_TEST_REDIS_URL`` (or with the service down) these
tests skip; under ``CI=true`` that skip is a failure (tests/plugins/required_markers.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import pytest
import redis

from benchmarks.next_item import admin_connection, fresh_database

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = os.environ.get("REVIEWTOOL_TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("REVIEWTOOL_TEST_DATABASE_URL is not set (a PostgreSQL server to test on)")
    try:
        admin_connection(url).close()
    except psycopg2.Error as error:
        pytest.skip(f"PostgreSQL at REVIEWTOOL_TEST_DATABASE_URL does not answer: {error}")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REVIEWTOOL_TEST_REDIS_URL", "")
    if not url:
        pytest.skip("REVIEWTOOL_TEST_REDIS_URL is not set (a Redis database the tests may flush)")
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
        # Messages a crashed earlier run left behind would reach this run's worker.
        client.flushdb()
    except redis.RedisError as error:
        pytest.skip(f"Redis at REVIEWTOOL_TEST_REDIS_URL does not answer: {error}")
    finally:
        client.close()
    return url


def service_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a subprocess: its own var dir, a real broker, no eager tasks."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    env.update(
        {
            "REVIEWTOOL_VAR_DIR": str(var_dir),
            "DJANGO_SETTINGS_MODULE": "reviewtool.settings",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            # Only this test's work reaches the worker: no embedding jobs for ingested items.
            "REVIEWTOOL_EMBED_ON_INGEST": "false",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *arguments: str) -> str:
    completed = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"manage.py {' '.join(arguments)} failed:\n{completed.stderr[-4000:]}")
    return completed.stdout


def run_driver(env: dict[str, str], *arguments: str) -> Any:
    """Run ``python -m tests.integration.driver ...`` and return the JSON it prints last."""
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.integration.driver", *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"driver {' '.join(arguments)} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture
def postgres_database(postgres_server_url: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on the test server; dropped afterwards."""
    with fresh_database(postgres_server_url, prefix="reviewtool_it") as url:
        manage(service_env(tmp_path, DATABASE_URL=url), "migrate", "--noinput", "-v0")
        yield url


@contextmanager
def celery_worker(env: dict[str, str], log_path: Path, *, timeout: float = 120) -> Iterator[None]:
    """A real ``celery worker`` process on the environment's broker, stopped on exit."""
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and celery
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "reviewtool",
                "worker",
                "--loglevel",
                "info",
                "--concurrency",
                "1",
                "--queues",
                "celery",
                "--without-mingle",
                "--without-gossip",
                "--hostname",
                f"integration-{os.getpid()}@%h",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: _worker_ready(process, log_path),
            timeout=timeout,
            what=f"the Celery worker to start (log: {log_path})",
        )
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _worker_ready(process: subprocess.Popen[bytes], log_path: Path) -> bool:
    if process.poll() is not None:
        pytest.fail(f"the Celery worker exited with {process.returncode}:\n{log_path.read_text()}")
    return " ready." in log_path.read_text()


def wait_until(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)
