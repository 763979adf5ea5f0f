"""Safe HTML from the Markdown that policy owners write.

Guidelines are written by staff, but a page that shows them also shows hostile content, so the
rendering is strict: raw HTML in the Markdown is escaped (never passed through), and the result is
sanitized again with nh3 (an allow-list of tags, attributes and URL schemes).
"""

from __future__ import annotations

from functools import lru_cache

import markdown
import nh3

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
# No "style" (the CSP forbids inline styles anyway) and no "rel": nh3 sets rel on every link.
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title"},
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer"


def guidelines_html(markdown_text: str) -> str:
    """Render Markdown to sanitized HTML: no raw HTML, no script, links get ``rel=noopener``."""
    return _render(markdown_text or "")


@lru_cache(maxsize=256)
def _render(markdown_text: str) -> str:
    # A fresh converter per call: Markdown instances keep state and are not thread-safe.
    converter = markdown.Markdown(
        extensions=["fenced_code", "tables", "sane_lists"], output_format="html"
    )
    # Without these two, Markdown copies raw HTML blocks and inline tags into its output.
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    html = converter.convert(markdown_text)
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
