"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Without ``/usr/bin/chromium`` these tests skip locally; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.http.response import HttpResponseBase
from pytest_django.live_server_helper import LiveServer

# Playwright's sync API runs an event loop in this thread between calls; Django's ORM refuses to
# run while one exists unless told that the test knows what it is doing.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# The test database is an in-memory SQLite whose one connection the live server's threads share
# with the test; concurrent requests (a prefetch next to a submit) would trip over each other's
# transactions ("database table is locked"). The server takes this lock per request, and the
# test takes it too around its own queries.
DATABASE_LOCK = threading.RLock()


class _OneRequestAtATime(StaticFilesHandler):
    in_flight = 0
    counter_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> HttpResponseBase:
        with self.counter_lock:
            _OneRequestAtATime.in_flight += 1
        try:
            with DATABASE_LOCK:
                return super().__call__(environ, start_response)
        finally:
            with self.counter_lock:
                _OneRequestAtATime.in_flight -= 1


def _wait_until_server_is_idle(timeout_s: float = 10.0) -> None:
    """A request the page sent just before it closed must finish before the test's database
    goes away; otherwise it fails in the server thread after the test."""
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if _OneRequestAtATime.in_flight == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 0.3:
                return
        else:
            quiet_since = None
        time.sleep(0.05)


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if _running_in_ci():
            pytest.fail(f"CI=true and {reason}; browser tests must run in CI.")
        pytest.skip(reason)
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """pytest-django's live server, serving one request at a time (see ``DATABASE_LOCK``)."""
    address = (
        request.config.getvalue("liveserver")
        or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    server = LiveServer(address, start=False)
    server.thread.static_handler = _OneRequestAtATime
    server.start()
    yield server
    server.stop()


@pytest.fixture
def database_lock() -> threading.RLock:
    return DATABASE_LOCK


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
    _wait_until_server_is_idle()
