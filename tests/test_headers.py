"""Headers: a Content-Security-Policy everywhere, no caching of signed-in pages."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

TEMPLATES = Path(settings.BASE_DIR) / "templates"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["topup:card-list", "topup:series-list", "billing:account-list", "topup:attempt-list"]
)
def test_signed_in_pages_are_not_cached_and_carry_the_policy(operator_client, name):
    response = operator_client.get(reverse(name))
    assert response.status_code == 200
    cache = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache
    assert "default-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_customer_pages_and_the_admin_are_not_cached_either(customer_client, admin_client):
    for client, url in [
        (customer_client, reverse("billing:balance")),
        (customer_client, reverse("billing:transaction-list")),
        (admin_client, reverse("admin:index")),
    ]:
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_login_page_has_the_policy(client):
    response = client.get(reverse("login"))
    assert response["Content-Security-Policy"].startswith("default-src 'self'")


def test_no_template_has_inline_script_or_style():
    """`default-src 'self'` forbids inline code; keep the templates free of it."""
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
    )
    # The print sheets and statements (an app's print/ folder) are rendered to PDF by
    # WeasyPrint, never served to a browser.
    offenders = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        if "print" not in path.relative_to(TEMPLATES).parts[1:-1]
        for match in inline.finditer(path.read_text())
    ]
    assert offenders == []
    assert len(list(TEMPLATES.rglob("*.html"))) > 10
