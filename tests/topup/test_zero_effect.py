"""Actions that would change nothing: their button is disabled with the reason, and the services
write no audit row for them. Downloads leave a message for the next page."""

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from resellers.models import AuditEvent
from tests.factories import generate
from topup import services
from topup.models import BulkJob, Card

VOID = reverse("topup:card-void")
RELEASE = reverse("topup:card-release")
DELETE = reverse("topup:card-delete")
EDIT = reverse("topup:card-mass-edit")


@pytest.fixture
def all_void(tree):
    series = generate(tree["operator"], tree["north"], quantity=3, code="401")
    Card.objects.filter(series=series).update(status=Card.Status.VOID)
    return series


def search(**params) -> str:
    return urlencode({"apply_to": "search", **params})


def test_void_and_release_of_nothing_are_disabled_with_the_reason(operator_client, all_void):
    page = operator_client.get(f"{VOID}?{search(series='401')}").content.decode()
    assert 'disabled aria-describedby="nothing-to-do">Yes, void 0 cards' in page
    assert "Nothing to void: every card of this selection is already redeemed or void." in page
    page = operator_client.get(f"{RELEASE}?{search(series='401')}").content.decode()
    assert 'disabled aria-describedby="nothing-to-do">Release 0 cards' in page
    assert "Nothing to release" in page
    page = operator_client.get(f"{EDIT}?{search(series='401')}").content.decode()
    assert 'disabled aria-describedby="nothing-to-do">Process' in page


def test_an_action_with_cards_to_change_is_enabled(operator_client, tree):
    generate(tree["operator"], tree["north"], quantity=2, code="402", in_stock=True)
    page = operator_client.get(f"{RELEASE}?{search(series='402')}").content.decode()
    assert '<button type="submit" class="primary">Release 2 cards</button>' in page
    assert "nothing-to-do" not in page


def test_voiding_nothing_writes_no_audit_row_and_says_so(operator_client, all_void):
    before = AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_VOIDED).count()
    response = operator_client.post(f"{VOID}?{search(series='401')}", follow=True)
    assert "0 cards voided." in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_VOIDED).count() == before


def test_releasing_some_still_writes_its_audit_row(tree):
    series = generate(tree["operator"], tree["north"], quantity=2, code="403", in_stock=True)
    result = services.cards_release(user=tree["operator"], cards=series.cards.all(), selection={})
    assert result.changed == 2
    event = AuditEvent.objects.get(action=AuditEvent.Action.CARDS_RELEASED)
    assert (event.details["changed"], event.details["skipped"]) == (2, 0)


@pytest.mark.django_db(transaction=True)
def test_a_background_job_that_changes_nothing_writes_no_audit_row(tree, settings):
    settings.TOPUP_BULK_BACKGROUND_THRESHOLD = 2
    series = generate(tree["operator"], tree["north"], quantity=5, code="404")
    Card.objects.filter(series=series).update(status=Card.Status.VOID)
    result = services.cards_void(
        user=tree["operator"], cards=series.cards.all(), selection={"search": "series=404"}
    )
    job = BulkJob.objects.get(pk=result.job.pk)
    assert (job.state, job.progress, job.changed) == ("done", 5, 0)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CARDS_VOIDED).exists()


def test_a_download_leaves_a_message_for_the_next_page(operator_client, tree):
    generate(tree["operator"], tree["north"], quantity=1, code="405", amount=Decimal("3"))
    response = operator_client.get(reverse("topup:series-reconciliation"))
    b"".join(response.streaming_content)
    page = operator_client.get(reverse("topup:series-list")).content.decode()
    assert "Reconciliation CSV downloaded." in page
    response = operator_client.post(f"{reverse('topup:card-export')}?{search(series='405')}")
    assert response["Content-Disposition"].startswith("attachment")
    b"".join(response.streaming_content)
    page = operator_client.get(reverse("topup:card-list")).content.decode()
    assert "CSV with PINs downloaded" in page


def test_printing_an_empty_selection_is_disabled_with_the_reason(operator_client, tree):
    page = operator_client.get(f"{reverse('topup:card-print')}?{search(series='nope')}")
    html = page.content.decode()
    assert "Nothing to print: the selection holds no card." in html
    assert 'disabled aria-describedby="nothing-to-do">Make the PDF' in html
