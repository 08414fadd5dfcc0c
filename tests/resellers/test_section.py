"""The Resellers section: the tree, companies and staff users, always within the subtree."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.urls import reverse

from resellers.models import AuditEvent, Reseller, User
from tests.factories import AccountFactory, SeriesFactory, generate, make_card
from topup import services as topup_services

LIST = reverse("resellers:reseller-list")


@pytest.mark.django_db
def test_the_tree_shows_the_subtree_with_its_figures(client, tree):
    SeriesFactory(code="N1", reseller=tree["north_retail"], amount=Decimal("7.50"))
    make_card(series=SeriesFactory(code="N2", reseller=tree["north_retail"]), number="N2-1")
    make_card(series=SeriesFactory(code="S1", reseller=tree["south"]), number="S1-1")
    AccountFactory(reseller=tree["north_retail"])
    client.force_login(tree["north_user"])
    page = client.get(LIST).content.decode()
    assert "North Retail" in page and ">North<" in page
    assert "South" not in page and "Root" not in page
    assert "new 1" in page and "$10.00" in page
    client.force_login(tree["operator"])
    page = client.get(LIST).content.decode()
    assert all(name in page for name in ("Root", "North", "South", "North Retail"))


@pytest.mark.django_db
def test_add_a_sub_reseller_in_scope_only(client, tree):
    client.force_login(tree["north_user"])
    url = reverse("resellers:reseller-create")
    response = client.post(url, {"parent": tree["north"].pk, "name": " Kiosk ", "currency": "EUR"})
    kiosk = Reseller.objects.get(name="Kiosk")
    assert response["Location"] == reverse("resellers:reseller-detail", args=[kiosk.pk])
    assert (kiosk.parent, kiosk.currency, kiosk.path) == (
        tree["north"],
        "EUR",
        f"{tree['north'].path}{kiosk.pk}/",
    )
    assert AuditEvent.objects.get(action="reseller.created").details["reseller"] == kiosk.pk

    refused = client.post(url, {"parent": tree["south"].pk, "name": "Sneaky", "currency": "XXQ"})
    assert refused.status_code == 200
    form = refused.context["form"]
    assert "parent" in form.errors and "currency" in form.errors
    blank = client.post(url, {"parent": tree["north"].pk, "name": "   ", "currency": "USD"})
    assert "name" in blank.context["form"].errors
    assert not Reseller.objects.filter(name__in=["Sneaky", ""]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, method",
    [
        ("resellers:reseller-detail", "get"),
        ("resellers:reseller-rename", "get"),
        ("resellers:reseller-rename", "post"),
        ("resellers:reseller-active", "post"),
        ("resellers:reseller-move", "get"),
        ("resellers:reseller-move", "post"),
    ],
)
def test_a_siblings_company_is_a_404_for_every_action(client, tree, name, method):
    client.force_login(tree["north_user"])
    south = tree["south"]
    data = {"name": "Taken", "active": "0", "parent": tree["north"].pk, "confirm": "on"}
    response = getattr(client, method)(reverse(name, args=[south.pk]), data)
    assert response.status_code == 404
    south.refresh_from_db()
    assert (south.name, south.is_active, south.parent) == ("South", True, tree["root"])


@pytest.mark.django_db
def test_rename_and_deactivate(client, tree, customer):
    client.force_login(tree["north_user"])
    retail = tree["north_retail"]
    client.post(reverse("resellers:reseller-rename", args=[retail.pk]), {"name": "Retail Two"})
    client.post(reverse("resellers:reseller-active", args=[retail.pk]), {"active": "0"})
    retail.refresh_from_db()
    assert (retail.name, retail.is_active) == ("Retail Two", False)
    # One's own company stays active.
    client.post(reverse("resellers:reseller-active", args=[tree["north"].pk]), {"active": "0"})
    assert Reseller.objects.get(pk=tree["north"].pk).is_active
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "reseller.renamed" in actions and "reseller.deactivated" in actions


@pytest.mark.django_db
def test_an_inactive_company_gets_no_series_but_its_cards_still_redeem(tree, customer):
    card, pin = make_card(series=SeriesFactory(code="A1", reseller=tree["north"]), number="A1-1")
    from resellers.services import reseller_set_active

    reseller_set_active(actor=tree["operator"], reseller=tree["north"], active=False)
    with pytest.raises(ValidationError) as refused:
        generate(tree["operator"], tree["north"], code="A2")
    assert "inactive" in refused.value.message_dict["reseller"][0]
    result = topup_services.card_redeem(account=customer, typed_pin=pin, client_address="10.0.0.9")
    assert result.outcome == "success"


@pytest.mark.django_db
def test_move_from_the_panel_shows_what_moves_before_moving(client, tree, customer):
    retail = tree["north_retail"]
    make_card(series=SeriesFactory(code="R1", reseller=retail), number="R1-1")
    AccountFactory(reseller=retail)
    client.force_login(tree["operator"])
    url = reverse("resellers:reseller-move", args=[retail.pk])
    preview = client.post(url, {"parent": tree["south"].pk})
    assert preview.status_code == 200
    summary = dict(preview.context["summary"])
    assert summary == {
        "Companies": "1",
        "Staff users": "1",
        "Customers": "1",
        "Cards": "1",
        "Outstanding": "$10.00",
    }
    assert Reseller.objects.get(pk=retail.pk).parent == tree["north"]
    cycle = client.post(reverse("resellers:reseller-move", args=[tree["north"].pk]), {
        "parent": retail.pk, "confirm": "on",
    })  # fmt: skip
    assert "parent" in cycle.context["form"].errors
    done = client.post(url, {"parent": tree["south"].pk, "confirm": "on"})
    assert done.status_code == 302
    retail.refresh_from_db()
    assert retail.parent == tree["south"]
    assert retail.path == f"{tree['south'].path}{retail.pk}/"


# Staff users


def add_user(client, **fields):
    data = {"username": "newbie", "first_name": "New", "last_name": "Bie", "email": ""}
    data.update(fields)
    return client.post(reverse("resellers:user-create"), data)


@pytest.mark.django_db
def test_add_a_staff_user_with_a_temporary_password_shown_once(client, tree):
    client.force_login(tree["north_user"])
    role = Group.objects.get(name="Reseller users")
    response = add_user(client, reseller=tree["north_retail"].pk, role=role.pk)
    assert response.status_code == 200
    password = response.context["password"]
    assert len(password) >= 12 and password in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    user = User.objects.get(username="newbie")
    assert (user.reseller, user.must_change_password, user.is_staff) == (
        tree["north_retail"],
        True,
        False,
    )
    assert list(user.groups.all()) == [role]
    assert password not in str(list(AuditEvent.objects.values_list("details", flat=True)))

    # First sign-in: nothing but the password change page until a new password is chosen.
    client.logout()
    assert client.login(username="newbie", password=password)
    assert client.get(reverse("topup:card-list"))["Location"] == reverse("password_change")
    fresh = "a-Fresh-pass-42"
    change = {"old_password": password, "new_password1": fresh, "new_password2": fresh}
    client.post(reverse("password_change"), change)
    assert not User.objects.get(pk=user.pk).must_change_password
    assert client.get(reverse("topup:card-list")).status_code == 200


@pytest.mark.django_db
def test_privilege_escalation_is_refused(client, tree):
    client.force_login(tree["north_user"])
    operators = Group.objects.get(name="Operators")
    # Operator rights: not held by a reseller user (and operators belong to the root only).
    response = add_user(client, reseller=tree["north"].pk, role=operators.pk)
    assert "role" in response.context["form"].errors
    # A role holding a right the reseller user lacks.
    auditors = Group.objects.create(name="Auditors")
    auditors.permissions.add(Permission.objects.get(codename="reveal_pin"))
    response = add_user(client, reseller=tree["north"].pk, role=auditors.pk)
    assert "do not hold" in response.context["form"].errors["role"][0]
    # A sibling's company is not a choice.
    reseller_users = Group.objects.get(name="Reseller users")
    response = add_user(client, reseller=tree["south"].pk, role=reseller_users.pk)
    assert "reseller" in response.context["form"].errors
    # Even an operator makes operators only at the root.
    client.force_login(tree["operator"])
    response = add_user(client, reseller=tree["north"].pk, role=operators.pk)
    assert "root company" in response.context["form"].errors["role"][0]
    assert not User.objects.filter(username="newbie").exists()
    response = add_user(client, reseller=tree["root"].pk, role=operators.pk)
    assert User.objects.get(username="newbie").has_perm("topup.generate_series")


@pytest.mark.django_db
def test_staff_list_shows_rights_and_user_actions_are_scoped(client, tree):
    client.force_login(tree["north_user"])
    page = client.get(reverse("resellers:user-list")).content.decode()
    assert "retailuser" in page and "southuser" not in page and ">op<" not in page
    assert "topup.mass_edit_cards" in page
    active, reset = "resellers:user-active", "resellers:user-password-reset"
    south_user = tree["south_user"]
    assert client.post(reverse(active, args=[south_user.pk]), {"active": "0"}).status_code == 404
    assert client.post(reverse(reset, args=[south_user.pk])).status_code == 404
    client.post(reverse(active, args=[tree["north_user"].pk]), {"active": "0"})  # oneself
    client.post(reverse(active, args=[tree["retail_user"].pk]), {"active": "0"})
    states = dict(User.objects.values_list("username", "is_active"))
    assert (states["southuser"], states["northuser"], states["retailuser"]) == (True, True, False)
    client.post(reverse(active, args=[tree["retail_user"].pk]), {"active": "1"})
    assert User.objects.get(pk=tree["retail_user"].pk).is_active

    response = client.post(reverse(reset, args=[tree["retail_user"].pk]))
    password = response.context["password"]
    assert "no-store" in response["Cache-Control"]
    retail = User.objects.get(pk=tree["retail_user"].pk)
    assert retail.must_change_password and retail.check_password(password)
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["user.deactivated", "user.activated", "user.password_reset"]
    assert password not in str(list(AuditEvent.objects.values_list("details", flat=True)))


@pytest.mark.django_db
def test_no_password_reset_for_a_user_holding_more_rights(client, tree):
    stronger = tree["retail_user"]
    auditors = Group.objects.create(name="Auditors")
    auditors.permissions.add(Permission.objects.get(codename="reveal_pin"))
    stronger.groups.add(auditors)
    stronger.is_active = False
    stronger.save()
    client.force_login(tree["north_user"])
    response = client.post(reverse("resellers:user-password-reset", args=[stronger.pk]))
    assert response.status_code == 302
    client.post(reverse("resellers:user-active", args=[stronger.pk]), {"active": "1"})
    stronger.refresh_from_db()
    assert not stronger.is_active and not stronger.must_change_password
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_customers_and_rightless_staff_cannot_open_the_section(client, tree, customer):
    client.force_login(customer.user)
    assert client.get(LIST).status_code == 403
    assert client.get(reverse("resellers:user-list")).status_code == 403
    tree["north_user"].groups.clear()
    client.force_login(tree["north_user"])
    assert client.get(LIST).status_code == 403
    assert client.post(reverse("resellers:reseller-create"), {}).status_code == 403
