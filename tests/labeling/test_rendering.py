"""labeling.rendering.guidelines_html: Markdown in, safe HTML out."""

from __future__ import annotations

import pytest

from labeling.rendering import guidelines_html


def test_markdown_is_rendered():
    html = guidelines_html("# Rules\n\n- **kind**\n- *calm*\n\n`code`")
    assert "<h1>Rules</h1>" in html
    assert "<li><strong>kind</strong></li>" in html
    assert "<em>calm</em>" in html
    assert "<code>code</code>" in html


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "<iframe src=https://evil.example></iframe>",
        '<a href="https://x" onclick="alert(1)">x</a>',
        "<style>body{display:none}</style>",
        "<div>\n<script>alert(1)</script>\n</div>",
    ],
)
def test_raw_html_is_escaped_not_passed_through(hostile):
    html = guidelines_html(f"Intro\n\n{hostile}\n\nOutro")
    assert "<script" not in html and "<iframe" not in html and "<img" not in html
    assert "<style" not in html and "<div" not in html and "<a " not in html
    assert "&lt;" in html  # shown as text


def test_links_get_rel_noopener_and_lose_unsafe_schemes():
    html = guidelines_html(
        "[ok](https://example.org) [mail](mailto:a@example.org) [js](javascript:alert(1)) "
        "[data](data:text/html;base64,PHNjcmlwdD4=)"
    )
    assert '<a href="https://example.org" rel="noopener noreferrer">ok</a>' in html
    assert 'href="mailto:a@example.org"' in html
    assert "javascript:" not in html
    assert "data:" not in html


def test_markdown_images_keep_only_safe_attributes():
    html = guidelines_html('![alt](https://example.org/a.png "title")')
    assert '<img alt="alt" src="https://example.org/a.png" title="title">' in html


def test_empty_guidelines():
    assert guidelines_html("") == ""
