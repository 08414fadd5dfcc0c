import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from billing.selectors import accounts_visible_to
from resellers.scoping import resellers_visible_to
from tests.factories import AccountFactory


@pytest.mark.django_db
def test_groups_hold_the_rights_of_their_role():
    def perms(name):
        return {
            f"{p.content_type.app_label}.{p.codename}"
            for p in Group.objects.get(name=name).permissions.all()
        }

    operators = perms("Operators")
    assert {
        "topup.generate_series",
        "topup.mass_edit_cards",
        "topup.delete_card",
        "topup.reveal_pin",
        "topup.lift_lockout",
    } <= operators
    resellers = perms("Reseller users")
    assert "topup.mass_edit_cards" in resellers
    assert not {"topup.generate_series", "topup.delete_card", "topup.reveal_pin"} & resellers
    assert perms("Customers") == {"topup.redeem_card"}


@pytest.mark.django_db
def test_reseller_user_sees_its_subtree_only(tree):
    seen = set(resellers_visible_to(tree["north_user"]))
    assert seen == {tree["north"], tree["north_retail"]}
    assert set(resellers_visible_to(tree["operator"])) == {
        tree["root"],
        tree["north"],
        tree["south"],
        tree["north_retail"],
    }
    assert set(resellers_visible_to(tree["retail_user"])) == {tree["north_retail"]}


@pytest.mark.django_db
def test_accounts_are_scoped_by_reseller_and_customer(tree):
    mine = AccountFactory(reseller=tree["north_retail"])
    sibling = AccountFactory(reseller=tree["south"])
    parent = AccountFactory(reseller=tree["root"])
    assert set(accounts_visible_to(tree["north_user"])) == {mine}
    assert set(accounts_visible_to(tree["south_user"])) == {sibling}
    assert set(accounts_visible_to(tree["operator"])) == {mine, sibling, parent}
    assert set(accounts_visible_to(mine.user)) == {mine}


@pytest.mark.django_db
def test_navigation_fits_the_role(client, tree, customer):
    client.force_login(tree["north_user"])
    page = client.get(reverse("topup:card-list")).content.decode()
    assert "Top-up Cards" in page and "Series" in page and "Customers" in page
    assert "Payment Gateways" not in page
    client.force_login(customer.user)
    page = client.get(reverse("billing:balance")).content.decode()
    assert "Payment Gateways" in page and "Transactions" in page
    assert "Top-up Cards" not in page


@pytest.mark.django_db
def test_login_page_and_role_landing(client, tree, customer):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("topup:card-list")).status_code == 302  # anonymous
    client.force_login(tree["operator"])
    assert client.get(reverse("home"))["Location"] == reverse("topup:dashboard")
    client.force_login(customer.user)
    assert client.get(reverse("home"))["Location"] == reverse("topup:payment-gateways")  # issue 25


@pytest.mark.django_db
def test_customer_pages_refuse_staff_and_staff_pages_refuse_customers(client, tree, customer):
    client.force_login(customer.user)
    assert client.get(reverse("topup:card-list")).status_code == 403
    assert client.get(reverse("billing:account-list")).status_code == 403
    client.force_login(tree["north_user"])
    assert client.get(reverse("billing:balance")).status_code == 404


@pytest.mark.django_db
def test_customer_list_is_scoped(client, tree):
    AccountFactory(reseller=tree["north"], name="Mine Ltd")
    AccountFactory(reseller=tree["south"], name="Sibling GmbH")
    client.force_login(tree["north_user"])
    page = client.get(reverse("billing:account-list")).content.decode()
    assert "Mine Ltd" in page and "Sibling GmbH" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "topup:card-list",
        "topup:series-generate",
        "topup:card-mass-edit",
        "topup:card-delete",
        "topup:card-export",
        "topup:payment-gateways",
        "topup:attempt-list",
        "billing:balance",
    ],
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "right"),
    [
        ("topup:card-list", "view_card"),
        ("topup:series-list", "view_series"),
        ("topup:series-generate", "view_series"),
        ("billing:account-list", "view_account"),
        ("topup:card-mass-edit", "view_card"),
        ("topup:card-export", "view_card"),
    ],
)
def test_panel_pages_check_their_view_right_as_well_as_scope(client, tree, name, right):
    """Finding 2: taking a view right away from a group closes the page, not only the admin."""
    user = tree["operator"]
    client.force_login(user)
    assert client.get(reverse(name)).status_code in (200, 302)
    group = user.groups.get()
    group.permissions.remove(Permission.objects.get(codename=right))
    assert client.get(reverse(name)).status_code == 403
    nav = [item["url"] for item in client.get(reverse("topup:attempt-list")).context["nav_items"]]
    assert reverse(name) not in nav


@pytest.mark.django_db
def test_rights_nothing_checks_are_gone(role_groups):
    codenames = set(Permission.objects.values_list("content_type__app_label", "codename"))
    for gone in [
        ("billing", "change_transaction"),
        ("billing", "delete_transaction"),
        ("topup", "change_card"),
        ("topup", "add_card"),
        ("topup", "change_auditevent"),
        ("topup", "delete_redemptionattempt"),
    ]:
        assert gone not in codenames
    assert ("topup", "delete_card") in codenames and ("topup", "view_card") in codenames
