"""Property: hostile input on every page, as every role, never gets a server error.

Pages come from the URL resolver, so a page added later is fuzzed without touching this file.
What each page reads is learnt three ways: the forms and FilterSets its view declares (any class
attribute that is one: `form_class`, `filterset_class`, ...), the forms of the whole site as
each role sees them (every input goes to the page its form's `action` or a button's
`formaction` names, with the values the page offers), and a few names any page might read
(`page`, `sort`, `next`). Hypothesis then sends generated values -- unicode digits, huge and
tiny exponents, NUL bytes, very long strings, impossible dates, negative numbers, several
values for one name, ids of other resellers' objects -- as the query string (GET) and as the
form (POST). A few fields at a time get hostile values while the others keep plausible ones,
so that one refused field cannot hide another that would break. It checks:

- no response is a server error (an exception in a view fails the test with its traceback);
- a GET changes no data, and a refused POST (4xx, the form shown again with errors, or any
  POST to a page closed to the role) changes nothing, audit included.

Each example runs in a savepoint that is rolled back. CI runs a fixed budget with a fixed seed
(`derandomize`); HYPOTHESIS_PROFILE=deep hunts longer. The admin is left out: its changelists
have their own tests.
"""

import copy
import os
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import django_filters
import pytest
from django import forms
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.models import Account, Transaction
from resellers.models import AuditEvent, Reseller, User
from tests import factories
from topup.models import Card, RedemptionAttempt, Series
from wallets import services as wallet_services
from wallets.models import SeriesDiscount, Wallet, WalletEntry, WalletRequest

hypothesis_settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "2")),
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    # Report a failure as found: shrinking replays dozens of requests per step.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.register_profile(
    "deep",
    parent=hypothesis_settings.get_profile("ci"),
    max_examples=100,
    derandomize=False,
    phases=list(Phase),
)
PROFILE = hypothesis_settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

LEFT_OUT_NAMESPACES = {"admin"}
ANY_PAGE_READS = ["page", "sort", "next"]
ROLES = ["anonymous", "operator", "reseller", "customer"]
HOSTILE_AT_ONCE = 3  # fields given hostile values together, after the first sweep of one each
# Audit actions that record a refusal by design (the attempt log): not a change of data.
RECORDED_REFUSALS = {AuditEvent.Action.REDEMPTION_FAILED}


# --- Pages ------------------------------------------------------------------------------------
def _routes(resolver=None, namespace=""):
    """(url name, view callable, path parameter names) for every named page."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in LEFT_OUT_NAMESPACES:
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _routes(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry.callback, sorted(entry.pattern.converters)


ROUTES = {name: (view, params) for name, view, params in _routes()}


def _field_names(form_field: forms.Field, name: str) -> list[str]:
    """The names a form field reads: range widgets read `name_min` / `name_after` etc."""
    widget = form_field.widget
    if getattr(widget, "suffixes", None):  # django-filter's range widgets
        return [f"{name}_{suffix}" for suffix in widget.suffixes]
    suffixes = getattr(widget, "widgets_names", None)
    return [name + suffix for suffix in suffixes] if suffixes else [name]


def _kind(form_field: forms.Field) -> str:
    """What a field reads, to try the values that break such fields first."""
    if isinstance(form_field, forms.DecimalField | forms.FloatField):
        return "number"
    if isinstance(form_field, forms.DateField | forms.DateTimeField | forms.MultiValueField):
        return "date"
    if isinstance(form_field, forms.IntegerField | forms.ModelChoiceField):
        return "id"
    return "text"


def _choices(form_field: forms.Field) -> list[str]:
    if isinstance(form_field, forms.ModelChoiceField):
        return []  # its choices depend on who asks: the pages offer them
    return [str(c[0]) for c in getattr(form_field, "choices", None) or [] if c[0] != ""]


def _declared_fields(view) -> tuple[dict, dict]:
    """(query, body) fields of the forms and FilterSets the view declares: kind and choices.

    `form_class` is what the page posts; any other form or FilterSet reads the query string.
    """
    query: dict[str, list[str]] = {}
    body: dict[str, list[str]] = {}
    view_class = getattr(view, "view_class", None)
    for attribute in dir(view_class) if view_class else []:
        value = getattr(view_class, attribute, None)
        if not isinstance(value, type):
            continue
        if issubclass(value, forms.BaseForm):
            declared = dict(value.base_fields)
        elif issubclass(value, django_filters.FilterSet):
            # A copy: building a filter's field caches it on the filter, and the class's own
            # filters must stay unbuilt (each FilterSet sets their querysets per request).
            declared = {name: copy.deepcopy(f).field for name, f in value.base_filters.items()}
        else:
            continue
        target = body if attribute == "form_class" else query
        for name, form_field in declared.items():
            for field_name in _field_names(form_field, name):
                field = target.setdefault(field_name, Field())
                field.kind = _kind(form_field)
                field.values.extend(_choices(form_field))
    return query, body


class Field:
    """What is known of one input: its kind and the values pages offer for it."""

    def __init__(self, kind: str = "", values=()):
        self.kind, self.values = kind, list(values)


INPUT_KINDS = {"number": "number", "date": "date", "datetime-local": "date", "text": "text"}


class _SiteForms(HTMLParser):
    """The forms of a page: which page each input goes to, by method, with offered values."""

    def __init__(self, page_url: str, found: dict):
        super().__init__()
        self.page_url, self.found = page_url, found
        self.form: dict | None = None
        self.select: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            method = (attrs.get("method") or "get").lower()
            self.form = {"method": method, "targets": [attrs.get("action") or self.page_url]}
            self.form["inputs"] = {}
        if self.form is None or "form" in attrs:
            return
        if tag == "button" and attrs.get("formaction"):
            self.form["targets"].append(attrs["formaction"])
        if tag in ("input", "select", "textarea", "button") and attrs.get("name"):
            field = self.form["inputs"].setdefault(attrs["name"], Field())
            kind = INPUT_KINDS.get(attrs.get("type", "text"), "id") if tag == "input" else "id"
            field.kind = field.kind or (kind if tag != "textarea" else "text")
            if attrs.get("value"):
                field.values.append(attrs["value"])
            self.select = field.values if tag == "select" else None
        if tag == "option" and attrs.get("value") and self.select is not None:
            self.select.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "form" and self.form:
            for target in self.form["targets"]:
                try:
                    name = resolve(urlsplit(target).path).view_name
                except Resolver404:
                    continue
                inputs = self.found.setdefault(name, {"get": {}, "post": {}})[self.form["method"]]
                inputs.update(_merge(inputs, self.form["inputs"]))
            self.form = None


# --- The world: one for the whole module, rolled back at its end -------------------------------
@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, _migrated_groups):
    """Resellers, staff, customers and cards with the same ids in every test of this module.

    Built once inside a transaction that wraps the module's tests (each test's own transaction
    nests in it as a savepoint) and rolled back at the end: nothing is left behind.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            factories.restore_groups(_migrated_groups)
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


class World(dict):
    def __repr__(self) -> str:  # a failure report names the page, not the whole world
        return "world"


def _build_world() -> dict:
    root = factories.ResellerFactory(name="Root", currency="USD")
    north = factories.ResellerFactory(name="North", currency="USD", parent=root)
    south = factories.ResellerFactory(name="South", currency="EUR", parent=root)
    north_series = factories.SeriesFactory(code="101", reseller=north)
    south_series = factories.SeriesFactory(code="201", reseller=south)
    for n in range(1, 4):
        factories.make_card(series=north_series, number=f"101-{n:08d}")
    for n in range(1, 3):
        factories.make_card(series=south_series, number=f"201-{n:08d}")
    customer = factories.AccountFactory(reseller=north, currency="USD")
    factories.AccountFactory(reseller=south, currency="EUR")
    for _ in range(5):  # a locked-out account: the attempts page offers to lift it
        RedemptionAttempt.objects.create(
            account=customer, client_address="10.0.0.1", outcome="failed", reason="unknown"
        )
    # North is billed: a wallet with entries, a series discount and a request waiting.
    op = factories.operator(root, username="op-wallets")
    wallet = wallet_services.wallet_configure(
        actor=op, reseller=north, billing_mode="prepaid", discount=Decimal("10"),
        credit_limit=Decimal("100"),
    )  # fmt: skip
    wallet_services.wallet_topup(wallet=wallet, amount=Decimal("50"), note="cash", by=op)
    wallet_services.series_discount_set(
        actor=op, reseller=north, series=north_series, discount=Decimal("5")
    )
    WalletRequest.objects.create(
        wallet=wallet, kind="topup", amount=Decimal("20000"), note="large", created_by=op
    )
    ids = set()
    for model in (Card, Series, Account, Reseller, User):
        ids.update(model.objects.values_list("pk", flat=True))
    users = {
        "operator": factories.operator(root, username="op"),
        "reseller": factories.reseller_user(north, username="northuser"),
        "customer": customer.user,
    }
    sessions = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        sessions[role] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return World(
        users=users,
        sessions=sessions,
        ids=sorted(ids),
        series=north_series.pk,
        forms={},  # role -> the site's forms as that role sees them
        closed=set(),  # (route, role) found closed
    )


def _client(world, role) -> Client:
    """A client signed in as `role` through a session made with the world (a logout in one
    example deletes it only until that example's rollback)."""
    client = Client()
    if role != "anonymous":
        client.cookies[django_settings.SESSION_COOKIE_NAME] = world["sessions"][role]
    return client


def _site_forms(world, role, client) -> dict:
    """Every form of every page this role can open, by the page it goes to (found once)."""
    if role not in world["forms"]:
        found: dict = {}
        for name, (_view, params) in ROUTES.items():
            url = reverse(name, kwargs={p: world["series"] for p in params})
            response = client.get(url)
            if response.status_code == 200 and "html" in response.get("Content-Type", ""):
                _SiteForms(url, found).feed(response.content.decode())
        world["forms"][role] = found
    return world["forms"][role]


def _snapshot() -> tuple:
    """The data a refused request must leave alone, in one round trip: a digest of every row
    of the cards, series, accounts, ledger, resellers, wallets (entries, requests, discounts)
    and users, lifted lockouts and the audit
    log (less the refusals it records by design)."""
    parts = [
        f"(SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), ''))"
        f" FROM {model._meta.db_table} t)"
        for model in (
            Card, Series, Account, Transaction, Reseller, Wallet, WalletEntry, WalletRequest,
            SeriesDiscount,
        )
    ]  # fmt: skip
    parts += [
        # Signing in stamps last_login; everything else about a user must stay.
        f"(SELECT md5(coalesce(string_agg(concat_ws('|', id, username, password, is_active,"
        f" reseller_id), ',' ORDER BY id), '')) FROM {User._meta.db_table})",
        f"(SELECT count(*) FILTER (WHERE lifted) FROM {RedemptionAttempt._meta.db_table})",
        f"(SELECT count(*) FROM {AuditEvent._meta.db_table} WHERE NOT action = ANY(%s))",
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", [sorted(RECORDED_REFUSALS)])
        return cursor.fetchone()


# --- Values ---------------------------------------------------------------------------------------
# What breaks each kind of field, the classic server-error makers first: the first example
# Hypothesis tries is the simplest, so every field meets the first value of its kind.
BY_KIND = {
    "id": ["①", "²", "¹²³", "١٢٣", "0", "-1", str(2**63), "9" * 30, "1.5", " 1"],
    "number": ["1e-999999", "-1e999999", "0E-16384", "1e999999999", "NaN", "-Infinity", "①"],
    "date": ["0001-01-01", "9999-12-31", "0001-01-01T00:00", "9999-12-31T23:59", "0000-00-00",
             "2024-02-30", "99999-01-01", "2026-13-01T25:61", "1970-01-01T00:00:00+99:00"],
    "text": ["\x00", "a\x00b", "x" * 3000, "①", "' OR 1=1 --", "<b>", "\u202e", " "],
}  # fmt: skip
ANYTHING = st.one_of(
    *(st.sampled_from(values) for values in BY_KIND.values()),
    st.sampled_from(["9" * 5000, "-" * 300 + "1", "", "true", "%", "0.01", "1.005", "-0"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=40),
)


def _plausible(draw, fields: dict[str, Field]) -> dict[str, str]:
    """One offered value for each field that has some (the first one in the simplest case)."""
    return {
        name: draw(st.sampled_from(list(dict.fromkeys(field.values))), label=name)
        for name, field in sorted(fields.items())
        if field.values
    }


def _hostile(draw, name: str, field: Field, ids: list[int]) -> list[str]:
    """One or two values that break fields of this kind, anything hostile, or someone's id."""
    value = st.one_of(
        st.sampled_from(BY_KIND[field.kind or "text"]),
        ANYTHING,
        st.sampled_from([str(i) for i in ids]),
    )
    return draw(st.lists(value, min_size=1, max_size=2), label=name)


def _groups(draw, fields: dict, size: int) -> list[list[str]]:
    """The names in a drawn order, every name once: parsed ones (ids, numbers, dates) `size`
    at a time, alone in the simplest example; free text and choices HOSTILE_AT_ONCE at a time
    (a bad one is refused by its own field and hides nothing deeper)."""
    order = draw(st.permutations(sorted(fields)), label="order")
    parsed = [n for n in order if fields[n].kind in ("id", "number", "date")]
    other = [n for n in order if n not in parsed]
    return [
        *(parsed[i : i + size] for i in range(0, len(parsed), size)),
        *(other[i : i + HOSTILE_AT_ONCE] for i in range(0, len(other), HOSTILE_AT_ONCE)),
    ]


# --- The property -------------------------------------------------------------------------------
def _refused(response) -> bool:
    if response.status_code >= 400:
        return True
    form = response.context.get("form") if response.context else None
    return response.status_code == 200 and bool(form is not None and form.errors)


def _consume(response) -> None:
    if response.streaming:
        b"".join(response.streaming_content)


def _merge(*sources: dict) -> dict[str, Field]:
    merged: dict[str, Field] = {}
    for source in sources:
        for name, field in source.items():
            known = merged.setdefault(name, Field())
            known.kind = known.kind or field.kind
            known.values.extend(field.values)
    merged.pop("csrfmiddlewaretoken", None)
    return merged


class _Checker:
    """Sends requests and checks the property on each. The data is read before the first one
    and after every POST (GETs are checked together after the last GET, which is cheaper and
    still names the page)."""

    def __init__(self, client, url):
        self.client, self.url = client, url
        self.known = _snapshot()
        self.gets: list[dict] = []

    def get(self, query: dict) -> int:
        response = self.client.get(self.url, query)
        _consume(response)
        assert response.status_code < 500
        self.gets.append(query)
        return response.status_code

    def gets_changed_nothing(self) -> None:
        if self.gets:
            assert _snapshot() == self.known, f"a GET of {self.url} changed data: {self.gets!r}"
            self.gets = []

    def post(self, query: dict, body: dict, *, door_closed: bool = False) -> None:
        self.gets_changed_nothing()
        target = f"{self.url}?{urlencode(query, doseq=True)}" if query else self.url
        response = self.client.post(target, body)
        _consume(response)
        assert response.status_code < 500
        after = _snapshot()
        if door_closed or _refused(response):
            assert after == self.known, f"refused POST {target} {body!r} changed data"
        self.known = after


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(ROUTES))
@PROFILE
@given(data=st.data())
def test_hostile_input_never_errors_and_refused_input_changes_nothing(world, route, role, data):
    view, params = ROUTES[route]
    draw, ids = data.draw, world["ids"]
    declared_query, declared_body = _declared_fields(view)
    with transaction.atomic():
        client = _client(world, role)
        site = _site_forms(world, role, client).get(route, {"get": {}, "post": {}})
        query_fields = _merge({n: Field() for n in ANY_PAGE_READS}, declared_query, site["get"])
        body_fields = _merge(declared_body, site["post"])
        url = reverse(route, kwargs={p: draw(st.sampled_from(ids + [0, 2**63])) for p in params})
        check = _Checker(client, url)
        query, body = _plausible(draw, query_fields), _plausible(draw, body_fields)
        # One field at a time at first (the simplest example), then a few at once.
        size = draw(st.integers(min_value=1, max_value=HOSTILE_AT_ONCE), label="at once")
        if (route, role) in world["closed"]:
            pass  # this closed door was already tried with every field: once is enough
        elif check.get(query) in (302, 403, 404) and not site["post"]:
            # The door is closed to this role: no input at all changes anything.
            world["closed"].add((route, role))
            fields = query_fields | body_fields
            every = {n: _hostile(draw, n, f, ids) for n, f in sorted(fields.items())}
            check.get(every)
            check.post(every, every, door_closed=True)
        else:
            for names in _groups(draw, query_fields, size):
                hostile = {n: _hostile(draw, n, query_fields[n], ids) for n in names}
                check.get({**query, **hostile})
            for names in _groups(draw, body_fields, size):
                hostile = {n: _hostile(draw, n, body_fields[n], ids) for n in names}
                check.post(query, {**body, **hostile})
        check.gets_changed_nothing()
        transaction.set_rollback(True)


def test_the_pages_come_from_the_url_resolver():
    assert {"topup:card-list", "topup:card-mass-edit", "topup:series-generate", "login"} <= set(
        ROUTES
    )
    assert not any(name.startswith("admin:") for name in ROUTES)
