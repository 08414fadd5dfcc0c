"""Error pages: in the site layout, with a way back, and the 500 page without the database."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.views import defaults

WAY_BACK = 'href="/">Go to your start page</a>'


@pytest.mark.django_db
def test_not_found_and_forbidden_pages_are_in_the_layout(customer_client):
    missing = customer_client.get("/no-such-page/")
    assert missing.status_code == 404
    forbidden = customer_client.get("/cards/")
    assert forbidden.status_code == 403
    for response, heading in [
        (missing, "This page does not exist"),
        (forbidden, "You do not have the right to do this"),
    ]:
        page = response.content.decode()
        assert heading in page and WAY_BACK in page
        assert (
            "/static/css/app.css" in page and 'aria-label="Main"' in page
        )  # the layout, signed in


@pytest.mark.django_db
def test_a_bad_request_gets_the_styled_400_page(client):
    response = client.get("/", HTTP_HOST="not-ours.example")
    assert response.status_code == 400
    page = response.content.decode()
    assert "This address could not be understood" in page and WAY_BACK in page


def test_the_500_page_renders_without_a_request_context_or_the_database():
    # No django_db mark: pytest-django fails any database access in this test.
    response = defaults.server_error(RequestFactory().get("/cards/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page and WAY_BACK in page


def test_the_429_page_names_the_wait():
    page = render_to_string("429.html", {"retry_after_minutes": 3})
    assert "about 3 minutes" in page and WAY_BACK in page
    assert "about 1 minute)" in render_to_string("429.html", {"retry_after_minutes": 1})


@pytest.mark.django_db
def test_the_demo_shows_the_styled_404_for_another_resellers_page(client, tree, settings):
    settings.DEBUG = True  # as the demo runs
    other = tree["south"]
    client.force_login(tree["north_user"])
    for url in (f"/resellers/{other.pk}/", "/no-such-page/"):
        response = client.get(url)
        assert response.status_code == 404
        page = response.content.decode()
        assert "This page does not exist" in page and WAY_BACK in page
        assert "technical_404" not in page and "URLconf" not in page
