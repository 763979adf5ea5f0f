"""Runs one step of an integration test in its own process, on the database and broker named by
the environment (``DATABASE_URL``, ``CELERY_BROKER_URL``), and prints the result as JSON.

    python -m tests.integration.driver queue --items 7
    python -m tests.integration.driver enqueue-refresh QUEUE_ID
    python -m tests.integration.driver decide QUEUE_ID REVIEWER_ID
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import django


def make_queue(items: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from labeling import services
    from labeling.models import Roles

    policy = services.policy_create(slug="integration", name="Integration")
    reviewer = get_user_model().objects.create_user(username="integration-reviewer")
    reviewer.groups.add(Group.objects.get_or_create(name=Roles.REVIEWER)[0])
    queue = services.queue_create(
        slug="integration", name="Integration", policies=[policy], reviewers=[reviewer]
    )
    services.items_ingest(
        queue=queue,
        items=[services.ItemInput(external_id=f"it-{number}") for number in range(items)],
        source="integration",
    )
    return {"queue_id": queue.pk, "reviewer_id": reviewer.pk}


def enqueue_refresh(queue_id: int) -> dict[str, Any]:
    from labeling.tasks import refresh_queue_stats

    refresh_queue_stats.delay(queue_id)
    return {"enqueued": "labeling.refresh_queue_stats"}


def decide(queue_id: int, reviewer_id: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from labeling import services
    from labeling.models import Queue

    queue = Queue.objects.get(pk=queue_id)
    reviewer = get_user_model().objects.get(pk=reviewer_id)
    lease = services.lease_next(queue=queue, reviewer=reviewer)
    if lease is None:
        raise SystemExit("the queue is empty")
    label = queue.policies.get().labels[0]
    decision = services.decision_submit(
        token=str(lease.token), reviewer=reviewer, verdicts={queue.policies.get().slug: label}
    )
    return {"decision_id": decision.pk, "item_id": lease.item_id}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    queue = commands.add_parser("queue")
    queue.add_argument("--items", type=int, default=5)
    refresh = commands.add_parser("enqueue-refresh")
    refresh.add_argument("queue_id", type=int)
    decision = commands.add_parser("decide")
    decision.add_argument("queue_id", type=int)
    decision.add_argument("reviewer_id", type=int)
    arguments = parser.parse_args(argv)

    django.setup()
    if arguments.command == "queue":
        result = make_queue(arguments.items)
    elif arguments.command == "enqueue-refresh":
        result = enqueue_refresh(arguments.queue_id)
    else:
        result = decide(arguments.queue_id, arguments.reviewer_id)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
