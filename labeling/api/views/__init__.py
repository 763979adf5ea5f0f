"""REST API v1 of the human loop.

One API class per resource path, with nested input serializers per operation; views parse input,
call one service or selector and render. Services raise ``ApplicationError`` subclasses that
``reviewtool.exceptions.api_exception_handler`` turns into ``{"message", "extra"}``. Objects a user
may not see are answered like objects that do not exist (404), because lookups go through the
selectors that decide visibility.
"""

from labeling.api.views.items import ItemDetailApi, ItemListApi
from labeling.api.views.labels import AdjudicationApi, LabelListApi, TokenObtainApi
from labeling.api.views.policies import (
    PolicyDetailApi,
    PolicyListApi,
    QueueDetailApi,
    QueueListApi,
)
from labeling.api.views.review import (
    DecisionListApi,
    DecisionUndoApi,
    LeaseEscalateApi,
    LeaseSkipApi,
    NextItemApi,
)

__all__ = [
    "AdjudicationApi",
    "DecisionListApi",
    "DecisionUndoApi",
    "ItemDetailApi",
    "ItemListApi",
    "LabelListApi",
    "LeaseEscalateApi",
    "LeaseSkipApi",
    "NextItemApi",
    "PolicyDetailApi",
    "PolicyListApi",
    "QueueDetailApi",
    "QueueListApi",
    "TokenObtainApi",
]
