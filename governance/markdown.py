"""Render user-written Markdown to HTML that is safe to put on a page.

markdown-it-py (CommonMark + tables + strikethrough, raw HTML escaped), then nh3 with an allow-list.
"""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

# Raw HTML is off, so `<script>` in the source comes out as visible, escaped text; nh3 below is
# the second wall in case a parser bug or a future plugin ever lets markup through.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

_ALIGN_CLASSES = {"left": "align-left", "center": "align-center", "right": "align-right"}


def _align_to_class(state: StateCore) -> None:
    """Turn table cells' `style="text-align:…"` into a class: the CSP forbids inline styles."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and token.attrs:
            style = str(token.attrs.pop("style", ""))
            align = style.removeprefix("text-align:").strip()
            if align in _ALIGN_CLASSES:
                token.attrSet("class", _ALIGN_CLASSES[align])


_md.core.ruler.push("align_to_class", _align_to_class)

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "del",
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
    "s",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
# No `id`, `class` or `style` from user input: ids could clash with our clause anchors.
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}
LINK_REL = "nofollow noopener ugc"

_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    # Dropped with their content, should they ever reach the cleaner.
    clean_content_tags={"script", "style", "iframe", "object", "embed", "template", "noscript"},
    attributes=ALLOWED_ATTRIBUTES,
    allowed_classes={
        "th": set(_ALIGN_CLASSES.values()),
        "td": set(_ALIGN_CLASSES.values()),
    },
    set_tag_attribute_values={"img": {"loading": "lazy", "referrerpolicy": "no-referrer"}},
    # Relative URLs and #anchors pass through (nh3's default); every other scheme, including
    # javascript:, vbscript: and data:, is removed from href/src.
    url_schemes={"http", "https", "mailto"},
    link_rel=LINK_REL,
    strip_comments=True,
)


def render_markdown(text: str) -> SafeString:
    """Render Markdown to sanitised HTML. Safe for any input string."""
    if not text:
        return mark_safe("")
    html = _md.render(text)
    return mark_safe(_cleaner.clean(html))
