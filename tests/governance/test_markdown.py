"""Safe Markdown rendering: hostile input is neutralised, ordinary Markdown still renders."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.utils.safestring import SafeString
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.markdown import render_markdown

SAFE_SCHEMES = {None, "http", "https", "mailto"}


def _scheme(url: str) -> str | None:
    """The scheme a browser would see (WHATWG URL parsing), None for a relative URL."""
    url = re.sub(r"[\t\n\r]", "", url).strip("".join(map(chr, range(0x21)))).lower()
    match = re.match(r"([a-z][a-z0-9+.-]*):", url)
    return match.group(1) if match else None


class _Collect(HTMLParser):
    """Every start tag with its attributes, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collect()
    parser.feed(html)
    parser.close()
    return parser.tags


def _assert_safe(html: str) -> None:
    for tag, attrs in _tags(html):
        assert tag not in {"script", "style", "iframe", "object", "embed", "form", "input"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert name not in {"style", "id", "srcdoc", "formaction"}, html
            if name in {"href", "src"}:
                assert _scheme(value or "") in SAFE_SCHEMES, html
    lowered = html.lower()
    assert "<script" not in lowered
    assert 'href="javascript:' not in lowered
    assert 'src="javascript:' not in lowered


def test_it_returns_a_safe_string():
    html = render_markdown("Hello **world**")

    assert isinstance(html, SafeString)
    assert html == "<p>Hello <strong>world</strong></p>\n"
    assert render_markdown("") == ""


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "text <script>alert(1)</script> inline",
        '<img src=x onerror="alert(1)">',
        "<a onclick=\"alert(1)\" href='#'>click</a>",
        '<div onmouseover="alert(1)">raw block</div>',
        "<iframe src='https://evil.example'></iframe>",
        "<style>body { display: none }</style>",
        "<svg onload=alert(1)>",
        '<object data="x.swf"></object>',
        "<!-- comment --><b>bold?</b>",
    ],
)
def test_it_escapes_raw_html(source):
    html = render_markdown(source)

    _assert_safe(html)
    assert _tags(html) in ([("p", {})], [])
    # The text stays visible as text rather than disappearing.
    assert "&lt;" in html


@pytest.mark.parametrize(
    "source",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](  javascript:alert(1)  )",
        "[click](&#106;avascript:alert(1))",
        "[click](java%0ascript:alert(1))",
        "[click](vbscript:msgbox(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click](file:///etc/passwd)",
        "<javascript:alert(1)>",
        "[click][ref]\n\n[ref]: javascript:alert(1)",
        "![img](javascript:alert(1))",
        "![img](data:image/png;base64,iVBORw0KGgo=)",
        '[x](https://example.com "title" onclick="alert(1)")',
    ],
)
def test_it_drops_dangerous_urls(source):
    html = render_markdown(source)

    _assert_safe(html)
    for tag, attrs in _tags(html):
        if tag == "a":
            assert not attrs.get("href", "").lower().startswith(("javascript", "data", "vb"))
        assert tag != "img" or "data:" not in (attrs.get("src") or "")


def test_it_renders_safe_links_with_rel():
    html = render_markdown(
        "[site](https://example.com/a?b=1) [mail](mailto:policy@example.com) "
        "[page](/policies/) [anchor](#weapons.bio) <https://example.org>"
    )

    links = [attrs for tag, attrs in _tags(html) if tag == "a"]
    assert [link["href"] for link in links] == [
        "https://example.com/a?b=1",
        "mailto:policy@example.com",
        "/policies/",
        "#weapons.bio",
        "https://example.org",
    ]
    assert {link["rel"] for link in links} == {"nofollow noopener ugc"}


def test_it_renders_images_with_safe_sources_only():
    html = render_markdown('![diagram](https://example.com/d.png "Flow")')

    assert _tags(html)[1] == (
        "img",
        {
            "src": "https://example.com/d.png",
            "alt": "diagram",
            "title": "Flow",
            "loading": "lazy",
            "referrerpolicy": "no-referrer",
        },
    )


def test_it_renders_tables_without_inline_styles():
    html = render_markdown("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |")

    tags = _tags(html)
    assert [tag for tag, _ in tags][:4] == ["table", "thead", "tr", "th"]
    cells = [attrs.get("class") for tag, attrs in tags if tag in {"th", "td"}]
    assert cells == ["align-left", "align-center", "align-right"] * 2
    assert "style=" not in html


def test_it_renders_common_markdown():
    html = render_markdown(
        "### Sub-heading {#custom-id}\n\n"
        "- one\n- two\n\n3. three\n\n"
        "> quoted\n\n"
        "~~struck~~ *em* `code`\n\n"
        "```python\nprint('<b>')\n```\n\n---\n"
    )

    names = [tag for tag, _ in _tags(html)]
    for expected in ("h3", "ul", "li", "ol", "blockquote", "s", "em", "code", "pre", "hr"):
        assert expected in names
    # No ids from user input (they could collide with clause anchors), no classes on code.
    assert all("id" not in attrs and "class" not in attrs for _, attrs in _tags(html))
    assert ("ol", {"start": "3"}) in _tags(html)
    assert "print(&#39;&lt;b&gt;&#39;)" in html or "print('&lt;b&gt;')" in html


def test_it_does_not_linkify_bare_urls():
    html = render_markdown("see www.example.com and https://example.com")
    assert "<a" not in html


_hostile = st.sampled_from(
    [
        "<script>",
        "</script>",
        "<img src=x onerror=alert(1)>",
        "javascript:",
        "JaVaScRiPt:",
        "data:",
        "[a](",
        "](",
        ")",
        "![",
        "<",
        ">",
        "'",
        '"',
        " onload=",
        "onclick=",
        "&#",
        "\n\n",
        "\n",
        "`",
        "```",
        "|",
        "\n|-|\n",
        "<a href=",
        "<!--",
        "-->",
        "[r]: ",
        "\\",
        "%0a",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(st.one_of(_hostile, st.text(max_size=5))).map("".join)))
def test_it_never_emits_scripts_event_handlers_or_javascript_urls(source):
    html = render_markdown(source)

    _assert_safe(html)
