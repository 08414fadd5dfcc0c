"""Mounted at /i18n/: `set_language` keeps Django's URL name, so `{% url 'set_language' %}` and
Django's own documentation apply; it wraps Django's view to store a signed-in user's choice."""

from django.urls import path

from . import views

urlpatterns = [
    path("setlang/", views.set_language, name="set_language"),
    path("preferences/", views.PreferencesView.as_view(), name="preferences"),
]
