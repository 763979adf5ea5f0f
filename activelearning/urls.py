from django.urls import path

from activelearning import relabel_views, views

urlpatterns = [
    path("ml/", views.ml_page, name="ml"),
    path("ml/policies/<slug:slug>/retrain/", views.retrain, name="ml-retrain"),
    path("ml/versions/<int:version_id>/promote/", views.promote, name="ml-promote"),
    path("ml/queues/<slug:slug>/strategy/", views.queue_strategy, name="ml-queue-strategy"),
    path(
        "ml/policies/<slug:slug>/versions/",
        relabel_views.policy_versions_page,
        name="policy-versions",
    ),
]
