"""20 reviewers claim and decide at once on PostgreSQL: no slot goes to two of them, no decision
is lost. Runs the benchmark harness with threads (one database connection each) and checks what
it counted in the database afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.conftest import REPO_ROOT, service_env

REVIEWERS = 20
CLAIMS = int(os.environ.get("REVIEWTOOL_IT_CLAIMS", "500"))


@pytest.mark.integration
@pytest.mark.parametrize("overlap", [1, 2])
def test_concurrent_reviewers_never_share_a_slot_and_lose_no_decision(
    tmp_path, postgres_server_url, overlap
):
    # A tenth more items than the reviewers can decide, so no one runs out before their quota.
    items = REVIEWERS * CLAIMS * 11 // (10 * overlap)
    out = tmp_path / "result.json"
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "benchmarks.next_item",
            "--database-url",
            postgres_server_url,
            "--items",
            str(items),
            "--reviewers",
            str(REVIEWERS),
            "--overlap",
            str(overlap),
            "--claims",
            str(CLAIMS),
            "--clients",
            "threads",
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        env=service_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads(out.read_text())
    checks = result["checks"]

    assert result["database"]["vendor"] == "postgresql"
    assert result["errors"] == []
    assert checks == {
        "decisions_returned": REVIEWERS * CLAIMS,
        "decisions_stored": REVIEWERS * CLAIMS,
        "lost_decisions": 0,
        "unreported_decisions": 0,
        "slots_decided_twice": 0,
        "items_over_overlap": 0,
        "items_decided_twice_by_one_reviewer": 0,
        "leases_granted_twice": 0,
        "client_errors": 0,
    }
