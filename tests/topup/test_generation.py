import secrets
import subprocess
from datetime import timedelta
from decimal import Decimal
from itertools import chain, repeat

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from resellers.models import AuditEvent
from tests.databases import pg_dump
from tests.factories import generate, make_card
from topup import generation, services
from topup.models import Card, Series
from topup.pins import pin_service


def pins_of(series) -> list[str]:
    return [
        pin_service.decrypt(c.pin_encrypted, c.pin_key_version, c.number)
        for c in Card.objects.filter(series=series)
    ]


def fail_encryption_after(monkeypatch, calls: int, message: str) -> None:
    """Make the PIN cipher fail from its (calls + 1)-th use on: a failure half-way."""
    real = pin_service.encrypt
    used = iter(range(1, 10**9))

    def failing(pin, number):
        if next(used) > calls:
            raise OSError(message)
        return real(pin, number)

    monkeypatch.setattr(pin_service, "encrypt", failing)


@pytest.mark.django_db
def test_generated_pins_are_unique_digits_of_the_asked_length(tree):
    series = generate(tree["operator"], tree["north"], quantity=200, pin_length=9)
    pins = pins_of(series)
    assert len(pins) == 200 == len(set(pins))
    assert all(len(p) == 9 and p.isdigit() for p in pins)
    cards = Card.objects.filter(series=series)
    assert {c.pin_digest for c in cards} == {pin_service.digest(p) for p in pins}
    assert all(c.currency == "USD" and c.amount == Decimal("10.00") for c in cards)
    assert (
        AuditEvent.objects.filter(action="series.generated", details__series=series.pk).count() == 1
    )


@pytest.mark.django_db
def test_a_colliding_pin_is_drawn_again_and_the_quantity_is_exact(tree, monkeypatch):
    _, existing = make_card(series=generate(tree["operator"], tree["north"], quantity=1, code="9"))
    taken = int(existing)
    # The seam: the first draws return a PIN that already exists, the rest are random.
    draws = chain(repeat(taken, 3), iter(lambda: secrets.randbelow(10**12), None))
    monkeypatch.setattr(type(pin_service), "randbelow", staticmethod(lambda n: next(draws)))
    series = generate(tree["operator"], tree["north"], quantity=50, code="77")
    pins = pins_of(series)
    assert len(pins) == 50 == len(set(pins))
    assert existing not in pins
    event = AuditEvent.objects.get(action="series.generated", details__series=series.pk)
    assert event.details["redrawn"] >= 1


@pytest.mark.django_db
def test_numbering_continues_across_series_with_the_same_code(tree):
    first = generate(tree["operator"], tree["north"], quantity=3, code="101")
    generate(tree["operator"], tree["north"], quantity=2, code="202")
    second = generate(tree["operator"], tree["south"], quantity=2, code="101")
    assert second.first_number == first.first_number + 3
    numbers = sorted(Card.objects.filter(series__code="101").values_list("number", flat=True))
    assert numbers == [f"101-{n:08d}" for n in range(1, 6)]
    # Numbers of deleted cards are not handed out again.
    Card.objects.filter(series=second).delete()
    third = generate(tree["operator"], tree["north"], quantity=1, code="101")
    assert Card.objects.get(series=third).number == "101-00000006"


@pytest.mark.django_db
def test_the_guessing_guard_refuses_and_names_a_safe_length(tree, settings):
    settings.TOPUP_MAX_GUESS_RATIO = 1e-6  # 8 digits: at most 100 live cards
    generate(tree["operator"], tree["north"], quantity=60, pin_length=8, code="1")
    with pytest.raises(ValidationError) as exc:
        generate(tree["operator"], tree["north"], quantity=50, pin_length=8, code="2")
    message = exc.value.message_dict["pin_length"][0]
    assert "at least 9 digits" in message
    assert not Series.objects.filter(code="2").exists()
    # Expired, blocked and activated cards do not count as live.
    Card.objects.filter(series__code="1").update(expires_at=timezone.now() - timedelta(days=1))
    assert generate(tree["operator"], tree["north"], quantity=50, pin_length=8, code="2").pk


@pytest.mark.django_db
@pytest.mark.parametrize("length", [7, 21])
def test_pin_length_outside_8_to_20_is_refused(tree, length):
    with pytest.raises(ValidationError) as exc:
        generate(tree["operator"], tree["north"], quantity=1, pin_length=length)
    assert "pin_length" in exc.value.message_dict
    assert not Card.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("amount", {"amount": Decimal("0")}),
        ("amount", {"amount": Decimal("1.001")}),
        ("quantity", {"quantity": 0}),
        ("quantity", {"quantity": 1_000_001}),
        ("code", {"code": "1 0"}),
        ("currency", {"currency": "XXZ"}),
        ("expires_at", {"expires_at": "past"}),
    ],
)
def test_bad_requests_are_refused_by_field(tree, field, overrides):
    if overrides.get("expires_at") == "past":
        overrides["expires_at"] = timezone.now() - timedelta(minutes=1)
    with pytest.raises(ValidationError) as exc:
        generate(tree["operator"], tree["north"], **{"quantity": 1, **overrides})
    assert field in exc.value.message_dict
    assert not Series.objects.exists()


@pytest.mark.django_db
def test_a_failing_generation_leaves_no_cards(tree, monkeypatch):
    monkeypatch.setattr(generation, "BATCH_SIZE", 10)
    fail_encryption_after(monkeypatch, 25, "disk on fire")
    with pytest.raises(OSError):
        generate(tree["operator"], tree["north"], quantity=40)
    assert not Card.objects.exists()
    assert not Series.objects.exists()


@pytest.mark.django_db
def test_a_reseller_user_may_not_generate(tree, client):
    with pytest.raises(PermissionDenied):
        generate(tree["north_user"], tree["north"], quantity=1)
    client.force_login(tree["north_user"])
    assert client.get(reverse("topup:series-generate")).status_code == 403
    response = client.post(reverse("topup:series-generate"), _form(tree["north"]))
    assert response.status_code == 403
    assert not Card.objects.exists()


def _form(reseller, **overrides):
    return {
        "amount": "10.00",
        "currency": "",
        "quantity": "5",
        "code": "500",
        "pin_length": "12",
        "reseller": str(reseller.pk),
        "expires_at": "",
        **overrides,
    }


@pytest.mark.django_db
def test_the_form_cannot_pick_a_reseller_outside_the_scope(tree, client):
    user = tree["north_user"]
    user.user_permissions.add(Permission.objects.get(codename="generate_series"))
    client.force_login(user)
    response = client.post(reverse("topup:series-generate"), _form(tree["south"]))
    assert response.status_code == 200
    assert response.context["form"].errors["reseller"] == [
        "Choose a reseller in your part of the tree."
    ]
    assert not Card.objects.exists()
    # The service checks the scope too, whatever the form does.
    with pytest.raises(ValidationError):
        generate(user, tree["south"], quantity=1)


@pytest.mark.django_db
def test_the_form_generates_and_shows_errors_on_fields(operator_client, tree):
    url = reverse("topup:series-generate")
    page = operator_client.get(url).content.decode()
    for label in [
        "Amount",
        "Currency",
        "Quantity",
        "Series",
        "PIN length",
        "Reseller",
        "Expiry date",
    ]:
        assert f">{label}</label>" in page
    bad = operator_client.post(url, _form(tree["north"], pin_length="7", amount="-1", code="a b"))
    assert bad.status_code == 200
    errors = bad.context["form"].errors
    assert {"pin_length", "amount", "code"} <= set(errors)
    assert not Card.objects.exists()
    later = (timezone.localtime() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    ok = operator_client.post(url, _form(tree["north"], expires_at=later))
    series = Series.objects.get()
    assert ok["Location"] == reverse("topup:series-detail", args=[series.pk])
    assert series.cards.count() == 5 and series.currency == "USD"
    page = operator_client.get(ok["Location"]).content.decode()
    assert "Show the cards" in page


@pytest.mark.django_db
def test_the_command_generates_and_refuses_bad_input(tree):
    call_command(
        "generate_cards",
        "--user=op",
        f"--reseller={tree['south'].name}",
        "--amount=5.50",
        "--quantity=30",
        "--series=300",
        "--expiry=2099-01-01",
    )
    series = Series.objects.get(code="300")
    assert series.cards.count() == 30 and series.currency == "EUR"
    with pytest.raises(CommandError, match="amount"):
        call_command(
            "generate_cards", "--user=op", "--reseller=South", "--amount=ten", "--quantity=1",
            "--series=1",
        )  # fmt: skip
    with pytest.raises(CommandError, match="--pin-length: A PIN has at least 8 digits"):
        call_command(
            "generate_cards", "--user=op", "--reseller=South", "--amount=1", "--quantity=1",
            "--series=1", "--pin-length=7",
        )  # fmt: skip
    assert Series.objects.count() == 1


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_a_large_series_is_generated_in_the_background_with_progress(tree, monkeypatch, settings):
    settings.TOPUP_BACKGROUND_THRESHOLD = 10
    monkeypatch.setattr(generation, "BATCH_SIZE", 7)
    reports = []
    real = services.generation._progress_reporter

    def spy(series):
        report = real(series)

        def wrapped(done):
            reports.append(done)
            report(done)

        return wrapped

    monkeypatch.setattr(services.generation, "_progress_reporter", spy)
    series = generate(tree["operator"], tree["north"], quantity=30, code="900", background=None)
    # The immediate task backend ran the worker's task on commit.
    series.refresh_from_db()
    assert series.state == Series.State.DONE
    assert series.cards.count() == 30
    assert reports == [7, 14, 21, 28, 30]


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_a_failing_background_series_says_why_and_leaves_no_cards(tree, monkeypatch, settings):
    settings.TOPUP_BACKGROUND_THRESHOLD = 10
    monkeypatch.setattr(generation, "BATCH_SIZE", 7)
    fail_encryption_after(monkeypatch, 20, "cipher unavailable")
    generate(tree["operator"], tree["north"], quantity=30, code="901", background=None)
    series = Series.objects.get(code="901")
    assert series.state == Series.State.FAILED
    assert series.error == services.jobs.INTERNAL_ERROR  # the detail is in the log only
    assert not Card.objects.filter(series=series).exists()


@pytest.mark.django_db
def test_the_series_page_shows_progress_while_running(operator_client, tree):
    series = Series.objects.create(
        code="950", amount=Decimal("1"), currency="USD", quantity=200, first_number=1,
        pin_length=12, reseller=tree["north"], state=Series.State.RUNNING, progress=50,
    )  # fmt: skip
    page = operator_client.get(reverse("topup:series-detail", args=[series.pk])).content.decode()
    assert "50 of 200 cards written (25%)" in page
    assert 'http-equiv="refresh"' in page


@pytest.mark.django_db(transaction=True)
def test_no_plain_pin_appears_in_a_database_dump(tree):
    series = generate(tree["operator"], tree["north"], quantity=100, pin_length=12, code="42")
    pins = pins_of(series)
    dump = subprocess.run(pg_dump("--data-only"), capture_output=True, text=True, check=True).stdout
    assert series.cards.first().number in dump  # the dump is really of these cards
    leaked = [p for p in pins if p in dump]
    assert leaked == []


@pytest.mark.django_db(transaction=True)
def test_simultaneous_series_of_one_code_get_distinct_contiguous_numbers(tree):
    from tests.topup.test_redemption import run_in_threads

    calls = [
        (
            generate,
            {"user": tree["operator"], "reseller": tree["north"], "quantity": 40, "code": "55"},
        )
        for _ in range(4)
    ]
    run_in_threads(calls)
    numbers = sorted(Card.objects.filter(series__code="55").values_list("number", flat=True))
    assert numbers == [f"55-{n:08d}" for n in range(1, 161)]
    starts = sorted(Series.objects.filter(code="55").values_list("first_number", flat=True))
    assert starts == [1, 41, 81, 121]


@pytest.mark.django_db
def test_the_smallest_amount_is_accepted_and_the_largest_storable_one_too(operator_client, tree):
    url = reverse("topup:series-generate")
    ok = operator_client.post(url, _form(tree["north"], amount="0.01", quantity="1"))
    assert ok.status_code == 302
    assert Series.objects.get().amount == Decimal("0.01")
    response = operator_client.post(url, _form(tree["north"], amount="1000000000000"))
    assert response.context["form"].errors["amount"] == [
        "Enter an amount of at most 999,999,999,999.99."
    ]
    response = operator_client.post(url, _form(tree["north"], pin_length="7"))
    assert response.context["form"].errors["pin_length"] == [
        "A PIN has at least 8 digits: shorter PINs are too easy to guess."
    ]
