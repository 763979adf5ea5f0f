from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from reviewtool.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/ml/", include("activelearning.api_urls")),
    path("api/v1/", include("labeling.api.media_urls")),
    path("api/v1/", include("labeling.api.urls")),
    path("", include("activelearning.urls")),
    path("", include("labeling.media_urls")),
    path("", include("labeling.urls")),
]
