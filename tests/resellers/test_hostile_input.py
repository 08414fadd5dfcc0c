"""Hostile input on the Resellers and Customers sections: a message by the field, no change."""

import pytest
from django.urls import reverse

from billing.models import Account, Transaction
from resellers.models import AuditEvent, Reseller, User

JUNK = ["", "NaN", "9" * 40, "\x00", "<script>'; --"]


def snapshot():
    return (
        list(Reseller.objects.order_by("pk").values_list("name", "path", "parent", "is_active")),
        User.objects.count(),
        Account.objects.count(),
        Transaction.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("junk", JUNK)
def test_junk_in_every_form_changes_nothing(operator_client, tree, customer, junk):
    before = snapshot()
    north = tree["north"].pk
    posts = [
        ("resellers:reseller-create", [], {"parent": junk, "name": junk * 300, "currency": junk}),
        ("resellers:reseller-rename", [north], {"name": junk * 300 or " "}),
        ("resellers:reseller-move", [north], {"parent": junk, "confirm": junk}),
        ("resellers:user-create", [], {"reseller": junk, "username": junk, "role": junk}),
        ("billing:account-open", [], {"name": junk, "reseller": junk, "username": junk}),
        (
            "billing:account-adjust",
            [customer.pk],
            {"direction": junk, "amount": junk, "note": junk * 300},
        ),
    ]
    for name, args, data in posts:
        response = operator_client.post(reverse(name, args=args), data)
        assert response.status_code == 200, name
        assert response.context["form"].errors, name
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["q=%00", "q=" + "9" * 500, "page=-1", "q=1e400", "q=%27"])
def test_junk_searches_never_error(operator_client, tree, customer, query):
    response = operator_client.get(f"{reverse('billing:account-list')}?{query}")
    assert response.status_code in (200, 404)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/resellers/99999999999999999999/",
        "/customers/99999999999999999999/",
        "/staff/0/active/",
        "/staff/0/password/",
    ],
)
def test_unknown_ids_are_404(operator_client, url):
    method = operator_client.post if url.startswith("/staff/") else operator_client.get
    assert method(url).status_code == 404
