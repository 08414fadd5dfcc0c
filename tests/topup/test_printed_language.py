"""The language printed on the cards: the end customer reads them, not the operator.

A series and a print job choose it; the sheet renders inside it. The French catalog here is
a tiny one compiled for the test (msgfmt), placed before the project's own catalogs, so the
test knows the exact French line whatever the shipped catalogs say.
"""

import subprocess

import pytest
from django.urls import reverse
from django.utils import translation

from resellers.models import AuditEvent
from tests.factories import generate
from topup import services
from topup.models import SheetJob
from topup.print_forms import language_name
from topup.services.printing import sheets

from .test_printing import LAYOUT, pdf_text, squeezed

PRINT = reverse("topup:card-print")
FRENCH = "Saisissez votre code PIN sur la page Passerelles de paiement"


@pytest.fixture
def french(settings, tmp_path):
    """A French catalog holding the standard instruction, first in LOCALE_PATHS."""
    messages = tmp_path / "locale" / "fr" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    po = messages / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        f'msgid "{services.DEFAULT_INSTRUCTION}"\nmsgstr "{FRENCH}"\n',
        encoding="utf-8",
    )
    subprocess.run(["msgfmt", "-o", str(messages / "django.mo"), str(po)], check=True)
    assert "fr" in dict(settings.LANGUAGES)
    # Changing LOCALE_PATHS drops Django's loaded catalogs (django.test.signals).
    settings.LOCALE_PATHS = [str(tmp_path / "locale"), *settings.LOCALE_PATHS]
    yield FRENCH
    # The catalogs are dropped again when the setting is restored.


@pytest.fixture
def rendered(monkeypatch):
    """The HTML of every sheet rendered, as WeasyPrint received it."""
    pages = []
    real = sheets.render_to_string

    def spy(template, context):
        html = real(template, context)
        pages.append(html)
        return html

    monkeypatch.setattr(sheets, "render_to_string", spy)
    return pages


def _print(client, query, **fields):
    from urllib.parse import urlencode

    return client.post(f"{PRINT}?{urlencode(query)}", {**LAYOUT, **fields})


@pytest.mark.django_db
def test_a_french_series_prints_its_sheet_in_french(
    operator_client, tree, french, rendered, tmp_path
):
    generate(tree["operator"], tree["north"], quantity=4, code="301", language="fr")
    query = {"series": "301", "apply_to": "search"}
    # The print form offers the series' language first.
    page = operator_client.get(PRINT, query)
    assert page.status_code == 200
    assert page.context["form"]["language"].value() == "fr"
    language = page.context["form"]["language"].value()
    response = _print(operator_client, query, columns="2", language=language)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    # Rendered inside the cards' language: the HTML says so, and the line is the catalog's.
    (html,) = rendered
    assert '<html lang="fr" dir="ltr">' in html
    with translation.override("fr"):
        assert translation.gettext(services.DEFAULT_INSTRUCTION) == french
    text = pdf_text(response.content, tmp_path)
    assert squeezed(french) in squeezed(text)
    assert services.DEFAULT_INSTRUCTION not in text
    assert "10,00 $US" in text  # the amount as French writes it
    # The operator's own page stays in the operator's language.
    assert translation.get_language() != "fr"


@pytest.mark.django_db
def test_the_print_job_chooses_the_language_whatever_the_series_says(
    operator_client, tree, french, rendered, tmp_path
):
    generate(tree["operator"], tree["north"], quantity=2, code="302")  # the default: English
    query = {"series": "302", "apply_to": "search"}
    assert operator_client.get(PRINT, query).context["form"]["language"].value() == "en"
    english = _print(operator_client, query, columns="2")
    assert services.DEFAULT_INSTRUCTION in " ".join(pdf_text(english.content, tmp_path).split())
    assert '<html lang="en"' in rendered[-1]
    french_sheet = _print(operator_client, query, columns="2", language="fr")
    assert squeezed(french) in squeezed(pdf_text(french_sheet.content, tmp_path))
    assert '<html lang="fr"' in rendered[-1]
    event = AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_PRINTED).latest("pk")
    assert event.details["layout"]["language"] == "fr"


@pytest.mark.django_db
def test_a_line_the_operator_writes_is_printed_as_written(
    operator_client, tree, french, rendered, tmp_path
):
    generate(tree["operator"], tree["north"], quantity=2, code="303", language="fr")
    query = {"series": "303", "apply_to": "search"}
    own = "Code sur www.example.test/pin"
    response = _print(operator_client, query, columns="2", instruction=own, language="fr")
    text = pdf_text(response.content, tmp_path)
    assert squeezed(own) in squeezed(text) and squeezed(french) not in squeezed(text)


@pytest.mark.django_db
def test_an_unknown_language_is_refused_and_nothing_is_printed(operator_client, tree):
    generate(tree["operator"], tree["north"], quantity=2, code="304")
    response = _print(operator_client, {"series": "304", "apply_to": "search"}, language="xx")
    assert response.status_code == 200 and "application/pdf" not in response["Content-Type"]
    assert response.context["form"].errors["language"]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_PRINTED).exists()
    with pytest.raises(Exception, match="languages offered"):
        sheets.SheetLayout(language="xx").validate()


@pytest.mark.django_db
def test_a_large_sheet_keeps_its_language_for_the_worker(
    operator_client, tree, french, rendered, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.PRINT_SHEET_BACKGROUND_THRESHOLD = 1
    generate(tree["operator"], tree["north"], quantity=3, code="305")
    query = {"series": "305", "apply_to": "search"}
    with django_capture_on_commit_callbacks(execute=True):
        response = _print(operator_client, query, paper="thermal", language="fr")
    job = SheetJob.objects.get()
    assert response.status_code == 302 and job.language == "fr"
    assert job.state == SheetJob.State.DONE
    assert all('<html lang="fr"' in html for html in rendered)
    page = operator_client.get(reverse("topup:sheet-detail", args=[job.pk])).content.decode()
    assert language_name("fr") in page  # the job's page names the printed language
    pdf = b"".join(
        operator_client.post(reverse("topup:sheet-download", args=[job.pk])).streaming_content
    )
    assert squeezed(french) in squeezed(pdf_text(pdf, tmp_path))


@pytest.mark.django_db
def test_a_series_chooses_its_language_when_generated_and_on_its_page(operator_client, tree):
    series = generate(tree["operator"], tree["north"], quantity=2, code="306")
    assert series.language == "en"  # the site's language (LANGUAGE_CODE's base)
    detail = reverse("topup:series-detail", args=[series.pk])
    response = operator_client.post(detail, {"label": "", "notes": "", "language": "fr"})
    assert response.status_code == 302
    series.refresh_from_db()
    assert series.language == "fr"
    event = AuditEvent.objects.get(action=AuditEvent.Action.SERIES_DESCRIBED)
    assert event.details["old"]["language"] == "en" and event.details["new"]["language"] == "fr"
    refused = operator_client.post(detail, {"label": "", "notes": "", "language": "xx"})
    assert refused.status_code == 200 and refused.context["describe_form"].errors["language"]
    series.refresh_from_db()
    assert series.language == "fr"
    with pytest.raises(Exception, match="languages offered"):
        generate(tree["operator"], tree["north"], quantity=1, code="307", language="xx")


def test_the_sheet_templates_render_right_to_left_for_arabic():
    layout = sheets.SheetLayout(language="ar", qr="none")
    with translation.override("ar"):
        html = sheets.render_to_string(
            "topup/print/sheet.html", {"layout": layout, "pages": [], "instruction": "x"}
        )
    assert '<html lang="ar" dir="rtl">' in html
    assert ".pin, .serial { direction: ltr; unicode-bidi: isolate; }" in html
