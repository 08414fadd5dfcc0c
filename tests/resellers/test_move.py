"""Moving a reseller moves its whole subtree; scope and redemption follow at once (issue 17.1)."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse

from resellers.models import AuditEvent, Reseller
from resellers.services import reseller_create, reseller_move
from tests.factories import AccountFactory, SeriesFactory, make_card, operator, reseller_user
from topup import services as topup_services


def expected_path(reseller: Reseller) -> str:
    """The path computed from the parent links alone."""
    parts = []
    while reseller is not None:
        parts.append(str(reseller.pk))
        reseller = reseller.parent
    return "/".join(reversed(parts)) + "/"


def assert_tree_true():
    for reseller in Reseller.objects.select_related("parent"):
        assert reseller.path == expected_path(reseller), reseller.name


@pytest.fixture
def branches(role_groups):
    """root -> A -> X -> Y, root -> B; a user, a series and a card per company."""
    root = Reseller.objects.create(name="Root", currency="USD")
    a = Reseller.objects.create(name="A", currency="USD", parent=root)
    b = Reseller.objects.create(name="B", currency="USD", parent=root)
    x = Reseller.objects.create(name="X", currency="USD", parent=a)
    y = Reseller.objects.create(name="Y", currency="USD", parent=x)
    companies = {"root": root, "A": a, "B": b, "X": x, "Y": y}
    data = {"companies": companies, "users": {}, "cards": {}, "accounts": {}}
    data["users"]["root"] = operator(root, username="op")
    for name, company in companies.items():
        if name != "root":
            data["users"][name] = reseller_user(company, username=f"user_{name}")
        series = SeriesFactory(code=f"S{name}", reseller=company, amount=Decimal("10.00"))
        data["cards"][name] = make_card(series=series, number=f"S{name}-00000001")
        data["accounts"][name] = AccountFactory(
            reseller=company, name=f"Customer of {name}", currency="USD"
        )
    return data


def seen_on_pages(client, user) -> dict[str, set[str]]:
    """What a user sees of each company on the card list, series and customer pages."""
    client.force_login(user)
    cards = client.get(reverse("topup:card-list")).content.decode()
    series = client.get(reverse("topup:series-list")).content.decode()
    accounts = client.get(reverse("billing:account-list")).content.decode()
    names = ["root", "A", "B", "X", "Y"]
    return {
        "cards": {n for n in names if f"S{n}-00000001" in cards},
        "series": {n for n in names if f">S{n}<" in series},
        "accounts": {n for n in names if f"Customer of {n}<" in accounts},
    }


@pytest.mark.django_db
def test_a_move_rewrites_the_subtree_and_scope_follows_for_every_user(client, branches):
    companies, users = branches["companies"], branches["users"]
    before = {name: seen_on_pages(client, user) for name, user in users.items()}
    assert before["A"]["cards"] == {"A", "X", "Y"}
    assert before["B"]["cards"] == {"B"}

    moved = reseller_move(actor=users["root"], reseller=companies["X"], new_parent=companies["B"])

    assert moved == 2
    assert_tree_true()
    expected = {
        "root": {"root", "A", "B", "X", "Y"},
        "A": {"A"},
        "B": {"B", "X", "Y"},
        "X": {"X", "Y"},
        "Y": {"Y"},
    }
    for name, user in users.items():
        seen = seen_on_pages(client, user)
        for page in ("cards", "series", "accounts"):
            assert seen[page] == expected[name], (name, page)
    event = AuditEvent.objects.get(action="reseller.moved")
    assert event.actor == users["root"]
    assert event.details["new_parent"] == companies["B"].pk
    assert event.details["resellers"] == 2


@pytest.mark.django_db
def test_redemption_after_a_move_uses_the_new_ancestors(branches):
    companies, users, cards = branches["companies"], branches["users"], branches["cards"]
    reseller_move(actor=users["root"], reseller=companies["X"], new_parent=companies["B"])
    customer_of_y = branches["accounts"]["Y"]
    customer_of_y.reseller.refresh_from_db()

    _, pin_of_a = cards["A"]
    refused = topup_services.card_redeem(
        account=customer_of_y, typed_pin=pin_of_a, client_address="10.0.0.1"
    )
    assert refused.outcome == "failed"
    _, pin_of_b = cards["B"]
    credited = topup_services.card_redeem(
        account=customer_of_y, typed_pin=pin_of_b, client_address="10.0.0.1"
    )
    assert credited.outcome == "success"
    assert credited.balance == Decimal("10.00")
    cards["A"][0].refresh_from_db()
    assert cards["A"][0].status == "new"


@pytest.mark.django_db
def test_saving_a_reseller_with_a_new_parent_is_refused_and_leaves_the_tree_true(branches):
    x, b = branches["companies"]["X"], branches["companies"]["B"]
    x.parent = b
    with pytest.raises(ValueError, match="reseller_move"):
        x.save()
    assert_tree_true()
    assert Reseller.objects.get(pk=x.pk).parent == branches["companies"]["A"]


@pytest.mark.django_db
def test_a_stale_copy_saved_after_a_move_does_not_undo_it(branches):
    companies = branches["companies"]
    stale_y = Reseller.objects.get(pk=companies["Y"].pk)
    reseller_move(
        actor=branches["users"]["root"], reseller=companies["X"], new_parent=companies["B"]
    )
    stale_y.name = "Y renamed"
    stale_y.save()
    assert_tree_true()
    assert Reseller.objects.get(pk=stale_y.pk).name == "Y renamed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "company, new_parent",
    [("A", "Y"), ("X", "X"), ("X", "Y"), ("root", "B"), ("X", "A")],
    ids=["under-descendant", "under-itself", "under-child", "the-root", "same-parent"],
)
def test_cycles_and_pointless_moves_are_refused_and_change_nothing(branches, company, new_parent):
    companies = branches["companies"]
    paths = dict(Reseller.objects.values_list("pk", "path"))
    with pytest.raises(ValidationError) as refused:
        reseller_move(
            actor=branches["users"]["root"],
            reseller=companies[company],
            new_parent=companies[new_parent],
        )
    assert "parent" in refused.value.message_dict
    assert dict(Reseller.objects.values_list("pk", "path")) == paths
    assert not AuditEvent.objects.filter(action="reseller.moved").exists()


@pytest.mark.django_db
def test_moves_outside_the_movers_subtree_are_refused(branches):
    companies, users = branches["companies"], branches["users"]
    paths = dict(Reseller.objects.values_list("pk", "path"))
    # A's user may not take X out of its subtree, nor move B (a sibling) under A.
    with pytest.raises(ValidationError):
        reseller_move(actor=users["A"], reseller=companies["X"], new_parent=companies["B"])
    with pytest.raises(ValidationError):
        reseller_move(actor=users["A"], reseller=companies["B"], new_parent=companies["A"])
    # X's user may not move its own company (the top of its tree) anywhere.
    with pytest.raises(ValidationError):
        reseller_move(actor=users["X"], reseller=companies["X"], new_parent=companies["Y"])
    # A customer has no right at all.
    with pytest.raises(PermissionDenied):
        reseller_move(
            actor=branches["accounts"]["Y"].user,
            reseller=companies["Y"],
            new_parent=companies["A"],
        )
    assert dict(Reseller.objects.values_list("pk", "path")) == paths


@pytest.mark.django_db
def test_a_reseller_user_moves_within_its_own_subtree(branches):
    companies, users = branches["companies"], branches["users"]
    z = reseller_create(actor=users["A"], parent=companies["A"], name="Z", currency="USD")
    reseller_move(actor=users["A"], reseller=companies["Y"], new_parent=z)
    assert_tree_true()
    assert Reseller.objects.get(pk=companies["Y"].pk).parent == z


@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_and_creations_keep_every_path_true(role_groups):
    root = Reseller.objects.create(name="Root", currency="USD")
    op = operator(root, username="op")
    left = Reseller.objects.create(name="Left", currency="USD", parent=root)
    right = Reseller.objects.create(name="Right", currency="USD", parent=root)
    chain = [Reseller.objects.create(name="C0", currency="USD", parent=left)]
    for i in range(1, 4):
        chain.append(Reseller.objects.create(name=f"C{i}", currency="USD", parent=chain[-1]))
    barrier = threading.Barrier(6)
    errors = []

    def work(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    calls = [
        lambda: reseller_move(actor=op, reseller=chain[0], new_parent=right),
        lambda: reseller_move(actor=op, reseller=chain[2], new_parent=left),
    ] + [
        (lambda i=i: reseller_create(actor=op, parent=chain[i], name=f"N{i}", currency="USD"))
        for i in range(4)
    ]
    threads = [threading.Thread(target=work, args=(fn,)) for fn in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Reseller.objects.count() == 3 + 4 + 4
    assert_tree_true()


@pytest.mark.django_db
def test_the_admin_moves_through_the_service_after_a_confirmation(client, branches):
    companies = branches["companies"]
    x, b, y = companies["X"], companies["B"], companies["Y"]
    client.force_login(branches["users"]["root"])
    url = reverse("admin:resellers_reseller_change", args=[x.pk])
    form = {"name": "X", "currency": "USD", "parent": b.pk, "is_active": "on", "_save": "Save"}

    unconfirmed = client.post(url, form)
    assert unconfirmed.status_code == 200
    assert "moves Companies: 2" in unconfirmed.content.decode()
    cycle = client.post(url, {**form, "parent": y.pk, "confirm_move": "on"})
    assert "cycle" in cycle.content.decode()
    assert Reseller.objects.get(pk=x.pk).parent == companies["A"]

    confirmed = client.post(url, {**form, "name": "X Ltd", "confirm_move": "on"})
    assert confirmed.status_code == 302
    x.refresh_from_db()
    assert (x.parent, x.name) == (b, "X Ltd")
    assert_tree_true()
    assert AuditEvent.objects.get(action="reseller.moved").details["reseller"] == x.pk
