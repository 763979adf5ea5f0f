"""Routes of media pages: the safe serving view and the staff upload page.

Included from ``reviewtool/urls.py``. ``/media/<sha256>/`` is a view with permission checks, not
``MEDIA_URL`` served by a static helper.
"""

from django.urls import path, re_path

from labeling import media_views

urlpatterns = [
    re_path(r"^media/(?P<sha256>[0-9a-f]{64})/$", media_views.media_serve, name="media-serve"),
    path("items/<int:item_id>/media/", media_views.item_media_page, name="item-media"),
    path("wellbeing/", media_views.wellbeing_page, name="wellbeing"),
]
