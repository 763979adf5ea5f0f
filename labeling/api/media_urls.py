from django.urls import path

from labeling.api import media

urlpatterns = [
    path("items/<int:item_id>/media/", media.ItemMediaApi.as_view(), name="api-item-media"),
    path("me/preferences/", media.ReviewerPreferenceApi.as_view(), name="api-reviewer-preferences"),
]
