from django.urls import path

from . import v1_epins, v1_operations, views
from .v1 import api

app_name = "api"

urlpatterns = [
    path("api-keys/", views.ApiKeyListView.as_view(), name="key-list"),
    path("api-keys/new/", views.ApiKeyCreateView.as_view(), name="key-create"),
    path("api-keys/<int:pk>/revoke/", views.ApiKeyRevokeView.as_view(), name="key-revoke"),
]

# v1_epins and v1_operations register their endpoints on `api` when imported.
assert v1_epins.api is api and v1_operations.api is api
api_urls = [path("api/v1/", api.urls)]
