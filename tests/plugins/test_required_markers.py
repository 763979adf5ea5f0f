"""Under CI=true a skipped integration/browser/dataset test fails; elsewhere it stays a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = """
import pytest

@pytest.mark.integration
def test_needs_postgres():
    pytest.skip("no PostgreSQL here")

@pytest.mark.browser
@pytest.mark.skipif(True, reason="no Chromium here")
def test_needs_chromium():
    pass

def test_plain_skip():
    pytest.skip("not required")
"""


def run_sample(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    sample = tmp_path / "test_sample.py"
    sample.write_text(SAMPLE)
    env = {**os.environ, "CI": ci}
    return subprocess.run(  # noqa: S603 - our own interpreter
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.plugins.required_markers",
            "-rA",
            str(sample),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_outside_ci_the_required_markers_may_skip(tmp_path):
    completed = run_sample(tmp_path, ci="")

    assert completed.returncode == 0, completed.stdout
    assert "3 skipped" in completed.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_a_skipped_required_test_fails(tmp_path, ci):
    completed = run_sample(tmp_path, ci=ci)

    assert completed.returncode == 1, completed.stdout
    assert "FAILED" in completed.stdout and "test_needs_postgres" in completed.stdout
    assert "ERROR" in completed.stdout and "test_needs_chromium" in completed.stdout
    assert "must run under CI=true" in completed.stdout
    assert "1 skipped" in completed.stdout
