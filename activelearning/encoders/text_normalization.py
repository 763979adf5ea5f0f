"""Dataset-agnostic text normalisation applied before encoding.

Social-media text carries URLs, user mentions and HTML entities that add vocabulary but no
meaning; replacing them with placeholder tokens keeps the signal ("this mentions someone")
and removes the noise (which someone).
"""

from __future__ import annotations

import html
import re

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_WHITESPACE = re.compile(r"\s+")

NORMALIZATION_VERSION = "1"


def normalize_text(text: str) -> str:
    """Unescape HTML entities, replace URLs and @mentions by tokens, collapse whitespace."""
    text = html.unescape(text)
    text = _URL.sub(" URL ", text)
    text = _MENTION.sub(" @USER ", text)
    return _WHITESPACE.sub(" ", text).strip()
