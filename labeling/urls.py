from django.contrib.auth import views as auth_views
from django.urls import path

from labeling import export_views, quality_views, views

urlpatterns = [
    path("", views.queue_list, name="queue-list"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("queues/<slug:slug>/review/", views.review, name="review"),
    path("adjudication/", views.adjudication, name="adjudication"),
    path("adjudication/<int:item_id>/", views.adjudicate_item, name="adjudicate-item"),
    path("quality/", quality_views.quality_page, name="quality"),
    path(
        "quality/alerts/<int:alert_id>/acknowledge/",
        quality_views.alert_acknowledge,
        name="quality-alert-acknowledge",
    ),
    path("exports/", export_views.exports_page, name="exports"),
]
