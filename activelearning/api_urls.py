from django.urls import path

from activelearning import api

urlpatterns = [
    path("runs/", api.TrainingRunListApi.as_view(), name="api-ml-runs"),
    path("runs/<int:run_id>/", api.TrainingRunDetailApi.as_view(), name="api-ml-run"),
    path("policies/<slug:slug>/retrain/", api.RetrainApi.as_view(), name="api-ml-retrain"),
    path("model-versions/", api.ModelVersionListApi.as_view(), name="api-ml-versions"),
    path(
        "model-versions/<int:version_id>/promote/",
        api.ModelVersionPromoteApi.as_view(),
        name="api-ml-promote",
    ),
    path("queues/<slug:slug>/learning/", api.QueueLearningApi.as_view(), name="api-ml-learning"),
]
