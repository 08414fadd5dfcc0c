"""Finding 2 and the admin's change lists: operators only, scoped, declared filters only."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from config.admin_site import OperatorModelAdmin
from tests.factories import AccountFactory, SeriesFactory, make_card


@pytest.fixture
def staff_reseller_client(tree):
    """North's reseller user, made `is_staff` (as someone might by mistake)."""
    user = tree["north_user"]
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_staff_reseller_user_does_not_get_into_the_admin(staff_reseller_client, tree):
    south_series = SeriesFactory(code="909", reseller=tree["south"])
    make_card(series=south_series, number="909-00000001")
    for url in [reverse("admin:index"), reverse("admin:topup_card_changelist")]:
        response = staff_reseller_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    assert (
        "909-00000001"
        not in staff_reseller_client.get(
            reverse("admin:topup_card_changelist"), follow=True
        ).content.decode()
    )


@pytest.mark.django_db
def test_operators_get_in_and_see_every_card(operator_client, tree):
    make_card(series=SeriesFactory(code="909", reseller=tree["south"]), number="909-00000001")
    page = operator_client.get(reverse("admin:topup_card_changelist"))
    assert page.status_code == 200
    assert "909-00000001" in page.content.decode()


@pytest.mark.django_db
def test_admin_querysets_are_scoped_even_for_a_user_let_in(rf, tree):
    """Were a non-root user ever let in, every list would still stop at their subtree."""
    make_card(series=SeriesFactory(code="909", reseller=tree["south"]), number="909-00000001")
    make_card(series=SeriesFactory(code="101", reseller=tree["north"]), number="101-00000001")
    north_account = AccountFactory(reseller=tree["north"])
    AccountFactory(reseller=tree["south"], currency="EUR")
    request = rf.get("/")
    request.user = tree["north_user"]
    site = admin.site._registry
    cards = site[type(tree["north"]).cards.rel.related_model].get_queryset(request)
    assert list(cards.values_list("number", flat=True)) == ["101-00000001"]
    accounts = site[type(north_account)].get_queryset(request)
    assert list(accounts) == [north_account]
    resellers = site[type(tree["north"])].get_queryset(request)
    assert set(resellers) == {tree["north"], tree["north_retail"]}
    users = site[type(tree["north_user"])].get_queryset(request)
    assert tree["south_user"] not in users and tree["north_user"] in users
    assert north_account.user in users
    from resellers.models import AuditEvent

    assert site[AuditEvent].get_queryset(request).query.is_empty()


def test_every_registered_admin_is_an_operator_admin():
    assert admin.site._registry
    for model_admin in admin.site._registry.values():
        assert isinstance(model_admin, OperatorModelAdmin), model_admin


HOSTILE = [
    "{field}__regex=(",
    "{field}__gt=1e999999999",
    "{field}__in=%C2%B2",
    "{field}__range=abc",
    "{field}=%00",
    "{field}__isnull=maybe",
    "{field}__year=99999999999",
    "{field}__exact=99999999999999999999999",
]


def _changelists():
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        fields = [f.name for f in opts.concrete_fields]
        yield url, fields, model_admin


@pytest.mark.django_db
def test_hostile_changelist_lookups_never_answer_500(admin_client, tree):
    """Every admin's change list, every field, every kind of bad lookup: never a server error."""
    make_card(series=SeriesFactory(code="101", reseller=tree["north"]), number="101-00000001")
    admin_client.raise_request_exception = False
    failures = []
    for url, fields, model_admin in _changelists():
        queries = [pattern.format(field=field) for field in fields for pattern in HOSTILE]
        queries += ["q=%00", "o=999", "o=abc", "p=-1", "e=%00", "all=%00"]
        for spec in model_admin.list_filter:
            name = spec if isinstance(spec, str) else getattr(spec, "parameter_name", None)
            if name:
                queries += [f"{name}__exact=%00", f"{name}__id__exact=abc", f"{name}__exact=1e999"]
        for query in queries:
            response = admin_client.get(f"{url}?{query}")
            if response.status_code not in (200, 302, 400):
                failures.append((url, query, response.status_code))
    assert failures == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/resellers/reseller/?path__regex=(",
        "/admin/billing/transaction/?balance_after__gt=1e999999999",
        "/admin/topup/redemptionattempt/?client_address__in=%C2%B2",
        "/admin/billing/account/?name__range=abc",
    ],
)
def test_the_reported_lookups_are_refused_without_touching_the_database(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.django_db
def test_declared_filters_still_work(admin_client, tree):
    make_card(series=SeriesFactory(code="101", reseller=tree["north"]), number="101-00000001")
    make_card(
        series=SeriesFactory(code="102", reseller=tree["north"]), number="102-00000001",
        status="blocked",
    )  # fmt: skip
    page = admin_client.get(reverse("admin:topup_card_changelist"), {"status__exact": "blocked"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "102-00000001" in body and "101-00000001" not in body
