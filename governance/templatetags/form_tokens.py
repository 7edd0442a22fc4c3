"""`{% form_token %}`: a hidden one-time token that lets a POST view run once per form."""

from django import template
from django.utils.html import format_html

from governance.idempotency import FORM_TOKEN_FIELD, new_form_token

register = template.Library()


@register.simple_tag
def form_token() -> str:
    return format_html(
        '<input type="hidden" name="{}" value="{}">', FORM_TOKEN_FIELD, new_form_token()
    )
