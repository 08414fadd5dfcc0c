from django.urls import path

from . import v1_epins, v1_jobs, v1_operations, v1_writes, views
from .v1 import api

app_name = "api"

urlpatterns = [
    path("api-keys/", views.ApiKeyListView.as_view(), name="key-list"),
    path("api-keys/new/", views.ApiKeyCreateView.as_view(), name="key-create"),
    path("api-keys/<int:pk>/revoke/", views.ApiKeyRevokeView.as_view(), name="key-revoke"),
]

# v1_epins, v1_jobs, v1_operations and v1_writes register their endpoints on `api` when imported.
assert all(m.api is api for m in (v1_epins, v1_jobs, v1_operations, v1_writes))
api_urls = [path("api/v1/", api.urls)]
