from django.urls import path

from labeling.api import exports, quality, views

urlpatterns = [
    path("auth/token/", views.TokenObtainApi.as_view(), name="api-token"),
    path("policies/", views.PolicyListApi.as_view(), name="api-policies"),
    path("policies/<slug:slug>/", views.PolicyDetailApi.as_view(), name="api-policy"),
    path("queues/", views.QueueListApi.as_view(), name="api-queues"),
    path("queues/<slug:slug>/", views.QueueDetailApi.as_view(), name="api-queue"),
    path("queues/<slug:slug>/next/", views.NextItemApi.as_view(), name="api-queue-next"),
    path("items/", views.ItemListApi.as_view(), name="api-items"),
    path("items/<int:item_id>/", views.ItemDetailApi.as_view(), name="api-item"),
    path("decisions/", views.DecisionListApi.as_view(), name="api-decisions"),
    path(
        "decisions/<int:decision_id>/undo/",
        views.DecisionUndoApi.as_view(),
        name="api-decision-undo",
    ),
    path("leases/<uuid:token>/skip/", views.LeaseSkipApi.as_view(), name="api-lease-skip"),
    path(
        "leases/<uuid:token>/escalate/",
        views.LeaseEscalateApi.as_view(),
        name="api-lease-escalate",
    ),
    path("labels/", views.LabelListApi.as_view(), name="api-labels"),
    path("adjudications/", views.AdjudicationApi.as_view(), name="api-adjudications"),
    path("quality/agreement/", quality.AgreementApi.as_view(), name="api-quality-agreement"),
    path("quality/reviewers/", quality.ReviewerAccuracyApi.as_view(), name="api-quality-reviewers"),
    path("golden/", quality.GoldenListApi.as_view(), name="api-golden"),
    path("exports/", exports.ExportListApi.as_view(), name="api-exports"),
    path("exports/<int:export_id>/", exports.ExportDetailApi.as_view(), name="api-export"),
    path(
        "exports/<int:export_id>/download/<str:filename>",
        exports.ExportDownloadApi.as_view(),
        name="api-export-download",
    ),
]
