"""``manage.py find_label_errors POLICY``: send a policy's likely label errors back to review."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from activelearning import label_error_review, services
from reviewtool.celery import enqueue
from reviewtool.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Score every label of a policy out of fold with the champion's encoder, find likely "
        "errors by confident learning and reopen the most likely ones for review."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("policy", help="policy slug")
        parser.add_argument(
            "--max-reopen",
            type=int,
            default=label_error_review.DEFAULT_MAX_REOPEN,
            help="reopen at most this many items (default %(default)s)",
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the fold split")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="send it to a Celery worker instead of running it here (default settings)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            policy = services.policy_by_slug(options["policy"])
            if options["queue"]:
                enqueue("activelearning.find_label_errors", policy.pk)
                self.stdout.write(f"label-error review of {policy.slug} queued")
                return
            review = label_error_review.label_errors_review(
                policy_id=policy.pk, max_reopen=options["max_reopen"], rng_seed=options["seed"]
            )
        except ApplicationError as error:
            raise CommandError(error.message) from error
        for key, value in review.counts().items():
            self.stdout.write(f"{key}: {value}")
        self.stdout.write(self.style.SUCCESS(f"{len(review.reopened)} item(s) reopened"))
