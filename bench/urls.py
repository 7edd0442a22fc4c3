"""The site's URLs plus `/bench/hello`, the baseline view: the same middleware stack, no work."""

from django.http import HttpResponse
from django.urls import include, path

from governance.urls import handler400, handler403, handler404, handler500

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def hello(request):
    return HttpResponse(b"Hello, world\n", content_type="text/plain")


urlpatterns = [
    path("bench/hello", hello, name="bench-hello"),
    path("", include("governance.urls")),
]
