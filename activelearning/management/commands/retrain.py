"""``manage.py retrain POLICY``: queue a training run (or run it here with ``--now``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from activelearning import services
from activelearning.models import RunStatus, RunTrigger
from reviewtool.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Train a candidate model for a policy; it is promoted if it does not regress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("policy", help="policy slug")
        parser.add_argument(
            "--now",
            action="store_true",
            help="train in this process instead of on a Celery worker",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            policy = services.policy_by_slug(options["policy"])
        except ApplicationError as error:
            raise CommandError(error.message) from error
        if options["now"]:
            run = services.training_run_create(policy=policy, trigger=RunTrigger.COMMAND)
            services.training_run_execute(run_id=run.pk)
        else:
            run = services.training_run_request(policy=policy, trigger=RunTrigger.COMMAND)
            self.stdout.write(f"training run {run.pk} queued for {policy.slug}")
            return
        run.refresh_from_db()
        for line in run.log:
            self.stdout.write(line)
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"training run {run.pk} {run.status}: {run.error}")
        self.stdout.write(self.style.SUCCESS(f"training run {run.pk} succeeded"))
