"""Template helpers of public comment: a comment's plain text as safe HTML with its links."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils.html import Urlizer
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Links people post are theirs, not ours: `ugc` and `nofollow` tell search engines so (and keep
# the docket worthless to link spammers); `noopener` keeps the target away from this window.
LINK_REL = "nofollow ugc noopener"
LINK_TEXT_MAX = 70


class _CommentUrlizer(Urlizer):
    url_template = '<a href="{href}" rel="' + LINK_REL + '"{attrs}>{url}</a>'


_urlize = _CommentUrlizer()


@register.filter(is_safe=True)
def comment_text(body) -> SafeString:
    """Escape everything the person wrote, then link http(s) and www. addresses (never
    `javascript:` or any other scheme) and keep their line breaks."""
    linked = _urlize(str(body or ""), trim_url_limit=LINK_TEXT_MAX, nofollow=False, autoescape=True)
    return linebreaksbr(mark_safe(linked), autoescape=False)  # escaped by _urlize
