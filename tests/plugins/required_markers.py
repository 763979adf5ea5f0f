"""Under ``CI=true`` a test marked integration, browser, dataset or reference_media must run: its
skip is a failure.

Locally these tests skip with a reason when PostgreSQL, Redis, Chromium, the datasets or the
fetched reference media are missing; in CI a missing service is a broken CI machine, and a skip
there would hide it.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

REQUIRED_IN_CI = ("integration", "browser", "dataset", "reference_media")


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def pytest_report_header(config: pytest.Config) -> str:
    if running_in_ci():
        return f"CI=true: a skipped test marked {'/'.join(REQUIRED_IN_CI)} fails"
    return f"tests marked {'/'.join(REQUIRED_IN_CI)} skip when their services are missing"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and running_in_ci()) or hasattr(report, "wasxfail"):
        return
    required = [name for name in REQUIRED_IN_CI if item.get_closest_marker(name)]
    if not required:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"marked {'/'.join(required)}, so it must run under CI=true, but it skipped: {reason}"
    )
