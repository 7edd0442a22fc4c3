"""One pagination style for the whole API: cursors (stable and fast however deep you go)."""

from rest_framework import exceptions, pagination

# What the reference shows for a page's links (DRF's own example points at another site's
# `/accounts/` and carries a stray quote).
NEXT_EXAMPLE = "https://openrefusal.example/api/v1/policies/?cursor=cD00ODY%3D"
PREVIOUS_EXAMPLE = "https://openrefusal.example/api/v1/policies/?cursor=cj0xJnA9NDg3"


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-pk"

    def decode_cursor(self, request):
        # DRF answers a mangled cursor with 404; it is bad input, so say so as a 400.
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {self.cursor_query_param: ["This cursor is not valid; follow `next`/`previous`."]}
            ) from None

    def get_paginated_response_schema(self, schema):
        page = super().get_paginated_response_schema(schema)
        page["properties"]["next"]["example"] = NEXT_EXAMPLE
        page["properties"]["previous"]["example"] = PREVIOUS_EXAMPLE
        return page
