"""/api/v1/policies/"""

from __future__ import annotations

import pytest

from labeling.models import Policy

pytestmark = pytest.mark.django_db

HOSTILE_GUIDELINES = """# Rules

Be **kind**. <script>alert("x")</script>

<img src=x onerror="alert(1)">

[safe](https://example.org) [unsafe](javascript:alert(1))
"""


def test_lead_creates_a_policy(as_lead):
    response = as_lead.post(
        "/api/v1/policies/",
        {
            "slug": "spam",
            "name": "Spam",
            "labels": ["spam", "ham"],
            "positive_labels": ["spam"],
            "guidelines": "Look for *links*.",
            "severity": 2,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "spam"
    assert body["labels"] == ["spam", "ham"]
    assert body["version"] == 1
    assert body["guidelines_html"] == "<p>Look for <em>links</em>.</p>"
    assert Policy.objects.filter(slug="spam").exists()


def test_policy_list_is_paginated_and_rendered(as_lead, policy):
    response = as_lead.get("/api/v1/policies/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["slug"] == "hate"
    assert body["results"][0]["guidelines_html"].startswith("<h1>Rules</h1>")


def test_a_reviewer_sees_only_the_policies_of_their_queues(as_reviewer, queue, lead):
    Policy.objects.create(slug="other", name="Other", labels=["a"])
    response = as_reviewer.get("/api/v1/policies/")
    assert [row["slug"] for row in response.json()["results"]] == ["hate"]
    assert as_reviewer.get("/api/v1/policies/other/").status_code == 404


def test_guidelines_html_is_sanitized(as_lead):
    response = as_lead.post(
        "/api/v1/policies/",
        {"slug": "xss", "name": "XSS", "guidelines": HOSTILE_GUIDELINES},
        format="json",
    )
    assert response.status_code == 201
    html = response.json()["guidelines_html"]
    assert "<script" not in html
    assert "<img" not in html
    assert "javascript:" not in html
    assert '<a href="https://example.org" rel="noopener noreferrer">safe</a>' in html
    assert "<strong>kind</strong>" in html
    # The raw markup is kept as visible text, escaped.
    assert "&lt;script&gt;" in html
    assert "&lt;img" in html
    assert response.json()["guidelines"] == HOSTILE_GUIDELINES


def test_patch_changes_guidelines_and_bumps_the_version(as_lead, policy):
    response = as_lead.patch("/api/v1/policies/hate/", {"guidelines": "New *rules*"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version"] == 2
    assert body["guidelines_html"] == "<p>New <em>rules</em></p>"
    assert body["name"] == "Hate speech"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "No slug"}, "slug"),
        ({"slug": "x"}, "name"),
        ({"slug": "not a slug", "name": "X"}, "slug"),
        ({"slug": "x", "name": "X", "labels": "violating"}, "labels"),
        ({"slug": "x", "name": "X", "labels": []}, "labels"),
        ({"slug": "x", "name": "X", "severity": 9}, "severity"),
        ({"slug": "x", "name": "X", "ordinal": "perhaps"}, "ordinal"),
    ],
)
def test_bad_policy_bodies_are_400_with_field_messages(as_lead, body, field):
    response = as_lead.post("/api/v1/policies/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not Policy.objects.exists()


def test_service_rules_come_back_as_400(as_lead):
    response = as_lead.post(
        "/api/v1/policies/",
        {"slug": "x", "name": "X", "labels": ["a", "a"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["message"]
    assert "labels" in response.json()["extra"]["fields"]


def test_a_taken_slug_is_409(as_lead, policy):
    response = as_lead.post("/api/v1/policies/", {"slug": "hate", "name": "Again"}, format="json")
    assert response.status_code == 409


def test_patch_positive_labels_outside_the_set_is_400(as_lead, policy):
    response = as_lead.patch("/api/v1/policies/hate/", {"positive_labels": ["nope"]}, format="json")
    assert response.status_code == 400
    policy.refresh_from_db()
    assert policy.positive_labels == ["violating"]
