"""Each user's language and time zone: the browser's for anonymous pages, the stored choice once
signed in (switcher, Preferences page, sign-in), right-to-left for Arabic, ISO date inputs."""

import re
from datetime import date, datetime

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from locales.middleware import UserLocaleMiddleware
from locales.widgets import DateInput, DateRangeInput, DateTimeInput
from resellers.models import User

SETLANG = reverse("set_language")
PREFERENCES = reverse("preferences")


def _html_tag(page: str) -> str:
    return re.search(r"<html[^>]*>", page).group(0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "lang", "direction"), [("es", "es", "ltr"), ("ar", "ar", "rtl"), ("de", "en", "ltr")]
)
def test_an_anonymous_page_follows_accept_language(client, accept, lang, direction):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=accept)
    assert f'lang="{lang}" dir="{direction}"' in _html_tag(response.content.decode())
    assert response["Content-Language"] == lang


@pytest.mark.django_db
def test_the_switcher_sets_the_cookie_for_anyone_and_keeps_next(client):
    response = client.post(SETLANG, {"language": "fr", "next": "/login/?next=/cards/"})
    assert response.status_code == 302 and response["Location"] == "/login/?next=/cards/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    page = client.get(reverse("login")).content.decode()
    assert 'lang="fr"' in _html_tag(page)
    assert 'action="/i18n/setlang/"' in page  # the sign-in page offers the switcher


@pytest.mark.django_db
def test_the_switcher_stores_a_signed_in_users_choice(client, tree):
    user = tree["north_user"]
    client.force_login(user)
    client.post(SETLANG, {"language": "pt-br", "next": "/"})
    user.refresh_from_db()
    assert user.language == "pt-br"
    # Another device, another browser language: the stored choice wins.
    other = Client(HTTP_ACCEPT_LANGUAGE="ru")
    other.force_login(user)
    assert 'lang="pt-br"' in _html_tag(other.get(PREFERENCES).content.decode())


@pytest.mark.django_db
def test_an_unknown_language_changes_nothing(client, tree):
    user = tree["north_user"]
    client.force_login(user)
    response = client.post(SETLANG, {"language": "xx" * 40, "next": "/"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.language == ""
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert client.get(SETLANG).status_code == 405  # a state change: POST only


@pytest.mark.django_db
def test_sign_in_applies_the_stored_language(client, tree):
    user = tree["operator"]
    User.objects.filter(pk=user.pk).update(language="ar")
    response = client.post(reverse("login"), {"username": "op", "password": "pw"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ar"
    page = client.get(PREFERENCES, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="ar" dir="rtl"' in _html_tag(page)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "north_user", "customer"])
def test_every_role_reaches_preferences_from_the_header(client, tree, customer, role):
    user = customer.user if role == "customer" else tree[role]
    client.force_login(user)
    home = client.get(reverse("home"), follow=True).content.decode()
    assert f'href="{PREFERENCES}"' in home
    response = client.post(PREFERENCES, {"language": "es", "time_zone": "America/Bogota"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("es", "America/Bogota")
    page = client.get(PREFERENCES).content.decode()
    assert 'lang="es"' in _html_tag(page) and 'value="America/Bogota" selected' in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"language": "es", "time_zone": "Mars/Olympus"},
        {"language": "klingon", "time_zone": ""},
        {"language": "es", "time_zone": "x" * 5000},
    ],
)
def test_bad_preferences_are_refused_with_a_message(client, tree, data):
    user = tree["operator"]
    client.force_login(user)
    response = client.post(PREFERENCES, data)
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("", "")


@pytest.mark.django_db
def test_preferences_need_sign_in_and_csrf(tree):
    assert Client().get(PREFERENCES).status_code == 302
    client = Client(enforce_csrf_checks=True)
    client.force_login(tree["operator"])
    assert client.post(PREFERENCES, {"language": "es"}).status_code == 403
    assert client.post(SETLANG, {"language": "es"}).status_code == 403
    tree["operator"].refresh_from_db()
    assert tree["operator"].language == ""


@pytest.mark.django_db
def test_the_users_zone_is_active_during_its_request_only(tree):
    user = tree["operator"]
    user.time_zone = "Asia/Kolkata"
    seen = {}

    def view(request):
        seen["zone"] = timezone.get_current_timezone_name()
        return HttpResponse("ok")

    request = RequestFactory().get("/")
    request.user = user
    UserLocaleMiddleware(view)(request)
    assert seen["zone"] == "Asia/Kolkata"
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_date_inputs_are_native_and_iso_in_every_language():
    with translation.override("es"):
        day = DateInput().render("d", date(2026, 12, 31))
        moment = DateTimeInput().render("m", datetime(2026, 12, 31, 23, 59))
        both = DateRangeInput().render("created", [date(2026, 1, 2), date(2026, 3, 4)])
    assert 'type="date"' in day and 'value="2026-12-31"' in day
    assert 'type="datetime-local"' in moment and 'value="2026-12-31T23:59"' in moment
    assert both.count('type="date"') == 2 and 'value="2026-01-02"' in both
    assert 'name="created_after"' in both and 'name="created_before"' in both
