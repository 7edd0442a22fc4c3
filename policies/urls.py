"""The policies area's pages: documents (policies.views) and public comment
(policies.views.comments), under one namespace."""

from policies.views import comments
from policies.views import urlpatterns as document_urlpatterns

app_name = "policies"

# Comment routes first: `comments/<id>/` must not be read as an organization's policy.
urlpatterns = comments.urlpatterns + document_urlpatterns
