"""The ML API and the ML page: who may use them, and that they drive the same services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from activelearning.models import ModelVersion, QueueLearning, RunStatus, TrainingRun
from labeling import services as labeling_services
from labeling.models import LabelSource
from tests.factories import PolicyFactory, make_queue

ML_ROLES_ALLOWED = ["ml_engineer", "lead", "admin_user"]
ML_ROLES_DENIED = ["reviewer", "senior", "outsider"]


@pytest.fixture(autouse=True)
def _model_dir(settings, tmp_path):
    settings.REVIEWTOOL_MODEL_DIR = tmp_path / "models"


@pytest.fixture
def spam_queue(db, reviewer):
    policy = PolicyFactory(slug="spam", labels=["spam", "ham"], positive_labels=["spam"])
    queue = make_queue(slug="sms", policies=[policy], reviewers=[reviewer])
    texts = [f"win cash prize {i}" for i in range(12)] + [f"lunch at noon {i}" for i in range(12)]
    items = labeling_services.items_ingest(
        queue=queue,
        items=[
            labeling_services.ItemInput(external_id=str(i), text=t) for i, t in enumerate(texts)
        ],
        source="t",
    ).created
    for item in items:
        value = "spam" if "cash" in item.text else "ham"
        labeling_services.label_store(
            item=item, policy=policy, value=value, source=LabelSource.IMPORT, agreement=1.0
        )
    labeling_services.items_ingest(
        queue=queue,
        items=[
            labeling_services.ItemInput(external_id=f"p{i}", text=f"cash {i}") for i in range(5)
        ],
        source="t",
    )
    return queue


@pytest.mark.parametrize("persona", ML_ROLES_ALLOWED)
@pytest.mark.django_db
def test_ml_staff_reach_the_ml_api_and_page(request, persona, api_client, client):
    user = request.getfixturevalue(persona)
    api_client.force_authenticate(user)
    assert api_client.get(reverse("api-ml-runs")).status_code == 200
    assert api_client.get(reverse("api-ml-versions")).status_code == 200
    client.force_login(user)
    assert client.get(reverse("ml")).status_code == 200


@pytest.mark.parametrize("persona", ML_ROLES_DENIED)
@pytest.mark.django_db
def test_others_are_refused(request, persona, api_client, client, spam_queue):
    user = request.getfixturevalue(persona)
    api_client.force_authenticate(user)
    assert api_client.get(reverse("api-ml-runs")).status_code == 403
    assert api_client.post(reverse("api-ml-retrain", args=["spam"])).status_code == 403
    client.force_login(user)
    assert client.get(reverse("ml")).status_code == 403
    assert client.post(reverse("ml-retrain", args=["spam"])).status_code == 403
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_anonymous_gets_401_from_the_api(api_client):
    assert api_client.get(reverse("api-ml-runs")).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_retrain_through_the_api_then_roll_back(api_client, ml_engineer, spam_queue):
    api_client.force_authenticate(ml_engineer)
    response = api_client.post(reverse("api-ml-retrain", args=["spam"]))
    assert response.status_code == 202
    run = api_client.get(reverse("api-ml-run", args=[response.json()["id"]])).json()
    assert run["status"] == RunStatus.SUCCEEDED
    assert run["promoted"] is True
    api_client.post(reverse("api-ml-retrain", args=["spam"]))
    versions = api_client.get(reverse("api-ml-versions"), {"policy": "spam"}).json()["results"]
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["status"] == "champion"
    assert versions[1]["metrics"]["macro_f1"] >= 0.0
    rollback = api_client.post(reverse("api-ml-promote", args=[versions[1]["id"]]))
    assert rollback.status_code == 200
    assert rollback.json()["status"] == "champion"
    again = api_client.post(reverse("api-ml-promote", args=[versions[1]["id"]]))
    assert again.status_code == 409


@pytest.mark.django_db
def test_unknown_policy_is_404(api_client, ml_engineer):
    api_client.force_authenticate(ml_engineer)
    assert api_client.post(reverse("api-ml-retrain", args=["nope"])).status_code == 404


@pytest.mark.django_db
def test_queue_strategy_is_set_and_validated(api_client, ml_engineer, spam_queue):
    api_client.force_authenticate(ml_engineer)
    url = reverse("api-ml-learning", args=["sms"])
    assert api_client.get(url).json()["strategy"] == "margin"
    bad = api_client.patch(url, {"strategy": "psychic"}, format="json")
    assert bad.status_code == 400
    assert "strategy" in bad.json()["extra"]["fields"]
    assert api_client.patch(url, {"learning_share": 2}, format="json").status_code == 400
    good = api_client.patch(url, {"strategy": "qbc", "learning_share": 0.5}, format="json")
    assert good.status_code == 200
    assert QueueLearning.objects.get(queue=spam_queue).strategy == "qbc"


@pytest.mark.django_db(transaction=True)
def test_the_ml_page_shows_versions_runs_and_the_curve(client, lead, spam_queue):
    client.force_login(lead)
    response = client.post(reverse("ml-retrain", args=["spam"]), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    version = ModelVersion.objects.get()
    assert f"v{version.number}" in page
    assert "<polyline" in page
    assert "Retrain now" in page
    assert "Content-Security-Policy" in response.headers
    assert 'data-runs-url="/api/v1/ml/runs/"' in page
