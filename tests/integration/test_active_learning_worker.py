"""Retrain -> promote -> rescore -> re-rank through a real Celery worker on Redis and PostgreSQL.

Data is made and read through ``manage.py shell`` in subprocesses, against the same database and
broker as the worker, so nothing runs eagerly or in-process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import celery_worker, manage, service_env, wait_until

SETUP = """
from labeling import services
from labeling.models import LabelSource, Policy
policy = services.policy_create(slug="spam", name="Spam", labels=["spam", "ham"])
queue = services.queue_create(slug="sms", name="SMS", policies=[policy])
spam = [f"win a free cash prize now {i}" for i in range(20)]
ham = [f"see you at lunch tomorrow {i}" for i in range(20)]
labelled = services.items_ingest(queue=queue, source="it", items=[
    services.ItemInput(external_id=f"l{i}", text=t) for i, t in enumerate(spam + ham)]).created
for item in labelled:
    value = "spam" if "cash" in item.text else "ham"
    services.label_store(item=item, policy=policy, value=value,
                         source=LabelSource.IMPORT, agreement=1.0, announce=False)
pool = [f"claim your cash prize {i}" for i in range(10)] + [f"lunch later {i}" for i in range(10)]
services.items_ingest(queue=queue, source="it", items=[
    services.ItemInput(external_id=f"p{i}", text=t) for i, t in enumerate(pool)])
"""

STATE = """
import json
from activelearning.models import Champion, QueueLearning, TrainingRun
from labeling.models import Item
runs = list(TrainingRun.objects.values("id", "status", "promoted", "error"))
champion = Champion.objects.values_list("model_version__number", flat=True).first()
scored = Item.objects.filter(external_id__startswith="p").exclude(model_scores={}).count()
reranked = QueueLearning.objects.filter(reranked_at__isnull=False).count()
print(json.dumps({"runs": runs, "champion": champion, "scored": scored, "reranked": reranked}))
"""


def state(env: dict[str, str]) -> dict[str, Any]:
    return dict(json.loads(manage(env, "shell", "-c", STATE).strip().splitlines()[-1]))


@pytest.mark.integration
def test_a_retrain_on_a_real_worker_promotes_rescores_and_reranks(
    postgres_database: str, redis_url: str, tmp_path: Path
) -> None:
    env = service_env(
        tmp_path,
        DATABASE_URL=postgres_database,
        CELERY_BROKER_URL=redis_url,
        REVIEWTOOL_TEXT_ENCODER="tfidf",
        REVIEWTOOL_RETRAIN_EVERY="0",
    )
    manage(env, "shell", "-c", SETUP)
    with celery_worker(env, tmp_path / "worker.log"):
        assert "queued" in manage(env, "retrain", "spam")
        final = wait_until(
            lambda: (lambda s: s if s["reranked"] else None)(state(env)),
            timeout=180,
            what="the worker to train, promote, rescore and re-rank",
        )
    assert [run["status"] for run in final["runs"]] == ["succeeded"]
    assert final["runs"][0]["promoted"] is True
    assert final["champion"] == 1
    assert final["scored"] == 20
