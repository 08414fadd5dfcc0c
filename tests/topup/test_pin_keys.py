"""Finding 6: PIN keys are checked at deploy, derived with HKDF, and rotated card by card."""

import hashlib
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.factories import AccountFactory, SeriesFactory
from topup import services
from topup.checks import check_pin_keys, check_webhook_keys
from topup.models import Card
from topup.pins import PinService, pin_service

STRONG_DIGEST = "hkdf:Jq3vX9tL2mR7wZ5yB8nC4kD6fH1gS0aE-QpWuToIiUy"
STRONG_CIPHER = "hkdf:Zx8cV7bN6mA5sD4fG3hJ2kL1qW9eR0tY_uIoPaSdFgH"
# Bare keys (the first derivation) as a real generator makes them: the deploy check judges
# randomness, so the old "…0123456789abcdef…" keys no longer pass it.
OLD_DIGEST = "c1f0a7d94e2b58f3a6d07e91b4c25f8e"
OLD_CIPHER = "Tr5nK2wQ8zLx4cVb7mHg1JdP9sYf3eRa6uNo0iWkE-Z"


def ids(found) -> set[str]:
    return {message.id for message in found}


def test_strong_distinct_hkdf_keys_pass_the_deploy_check(settings):
    settings.PIN_HMAC_KEY = STRONG_DIGEST
    settings.PIN_ENCRYPTION_KEYS = f"1:{OLD_CIPHER},2:{STRONG_CIPHER}"
    assert check_pin_keys() == []


@pytest.mark.parametrize(
    ("hmac_key", "encryption_keys", "expected"),
    [
        ("x", f"1:{STRONG_CIPHER}", "topup.E002"),
        (STRONG_DIGEST, "1:x", "topup.E002"),
        ("change-me-long-random-string-0123456789", f"1:{STRONG_CIPHER}", "topup.E002"),
        ("hkdf:" + "a" * 40, f"1:{STRONG_CIPHER}", "topup.E002"),
        (STRONG_DIGEST, f"1:{STRONG_DIGEST}", "topup.E003"),
        (STRONG_DIGEST, "x", "topup.E001"),
        (OLD_DIGEST, f"1:{STRONG_CIPHER}", "topup.W001"),
    ],
)
def test_weak_placeholder_or_shared_keys_fail_the_deploy_check(
    settings, hmac_key, encryption_keys, expected
):
    settings.PIN_HMAC_KEY = hmac_key
    settings.PIN_ENCRYPTION_KEYS = encryption_keys
    assert expected in ids(check_pin_keys())


def test_check_deploy_refuses_a_one_letter_key(settings):
    settings.PIN_HMAC_KEY = "x"
    with pytest.raises(SystemCheckError, match="PIN_HMAC_KEY is shorter than 32"):
        call_command("check", deploy=True, tags=["security"])


def test_hkdf_keys_and_the_first_derivation_side_by_side():
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"topup.pin.cipher")
    assert PinService.derive(STRONG_CIPHER, "cipher") == hkdf.derive(
        STRONG_CIPHER.removeprefix("hkdf:").encode()
    )
    # A bare key keeps the first derivation, so the cards made under it still read.
    assert (
        PinService.derive(OLD_CIPHER, "cipher")
        == hashlib.sha256(b"topup.pin.cipher:" + OLD_CIPHER.encode()).digest()
    )
    old = PinService(hmac_key=OLD_DIGEST, encryption_keys=f"1:{OLD_CIPHER}")
    both = PinService(hmac_key=OLD_DIGEST, encryption_keys=f"1:{OLD_CIPHER},2:{STRONG_CIPHER}")
    version, token = old.encrypt("123456789012", "101-00000001")
    assert both.decrypt(token, version, "101-00000001") == "123456789012"
    assert both.encrypt("123456789012", "101-00000001")[0] == 2


def _old_cards(series, count: int) -> dict[str, str]:
    """`count` cards made under the old keys; returns number -> PIN."""
    old = PinService(hmac_key=OLD_DIGEST, encryption_keys=f"1:{OLD_CIPHER}")
    pins, cards = {}, []
    for n in range(1, count + 1):
        number, pin = f"{series.code}-{n:08d}", f"{n:012d}"
        version, token = old.encrypt(pin, number)
        pins[number] = pin
        cards.append(
            Card(
                series=series, number=number, reseller=series.reseller, amount=series.amount,
                currency=series.currency, pin_digest=old.digest(pin), pin_encrypted=token,
                pin_key_version=version,
            )
        )  # fmt: skip
    Card.objects.bulk_create(cards, batch_size=5000)
    return pins


@pytest.mark.django_db
def test_rotation_round_trip_on_ten_thousand_cards(settings, tree):
    settings.PIN_HMAC_KEY = OLD_DIGEST
    settings.PIN_ENCRYPTION_KEYS = f"1:{OLD_CIPHER}"
    series = SeriesFactory(code="900", reseller=tree["north"], amount=Decimal("2.00"))
    pins = _old_cards(series, 10_000)
    account = AccountFactory(reseller=tree["north"])

    # New keys, the old digest key kept as the previous one for the time of the rotation.
    settings.PIN_HMAC_KEY = STRONG_DIGEST
    settings.PIN_HMAC_KEY_PREVIOUS = OLD_DIGEST
    settings.PIN_ENCRYPTION_KEYS = f"1:{OLD_CIPHER},2:{STRONG_CIPHER}"
    # A card not yet moved still redeems meanwhile.
    first = services.card_redeem(
        account=account, typed_pin=pins["900-00000001"], client_address="10.0.0.1"
    )
    assert first.outcome == "success"

    # Interrupted after the first batch, then run again: it goes on where it stopped.
    def stop_after_first_batch(done):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        services.pin_keys_rotate(batch_size=3000, progress=stop_after_first_batch)
    assert Card.objects.filter(pin_key_version=2).count() == 3000
    result = services.pin_keys_rotate(batch_size=3000)
    assert (result.moved, result.remaining) == (7000, 0)

    # The old keys go: every PIN still decrypts and is found by its new digest.
    settings.PIN_HMAC_KEY_PREVIOUS = ""
    settings.PIN_ENCRYPTION_KEYS = f"2:{STRONG_CIPHER}"
    new = PinService(hmac_key=STRONG_DIGEST, encryption_keys=f"2:{STRONG_CIPHER}")
    rows = Card.objects.values_list("number", "pin_digest", "pin_encrypted", "pin_key_version")
    seen = 0
    for number, digest, token, version in rows.iterator(chunk_size=5000):
        assert version == 2
        assert new.decrypt(token, version, number) == pins[number]
        assert digest == new.digest(pins[number])
        seen += 1
    assert seen == 10_000
    last = services.card_redeem(
        account=account, typed_pin=pins["900-00010000"], client_address="10.0.0.1"
    )
    assert last.outcome == "success"
    assert pin_service.digest_keys == [PinService.derive(STRONG_DIGEST, "digest")]


@pytest.mark.django_db
def test_the_rotation_command_shows_its_work(settings, tree, capsys):
    settings.PIN_HMAC_KEY = OLD_DIGEST
    settings.PIN_ENCRYPTION_KEYS = f"1:{OLD_CIPHER}"
    _old_cards(SeriesFactory(code="901", reseller=tree["north"]), 5)
    settings.PIN_ENCRYPTION_KEYS = f"1:{OLD_CIPHER},2:{STRONG_CIPHER}"
    call_command("rotate_pin_keys", batch_size=2)
    assert "5 cards moved" in capsys.readouterr().out
    assert set(Card.objects.values_list("pin_key_version", flat=True)) == {2}
    call_command("rotate_pin_keys")
    assert "0 cards moved" in capsys.readouterr().out


@pytest.mark.django_db
def test_plain_pins_never_reach_an_error_report_even_from_the_export_generator(rf, tree):
    """The export yields PINs from a generator, whose frame `sensitive_variables` misses."""
    import sys

    from django.views.debug import ExceptionReporter

    from tests.factories import make_card

    card, pin = make_card(series=SeriesFactory(reseller=tree["north"]))
    rows = services.cards_export_rows(
        user=tree["operator"], cards=Card.objects.all(), selection={"search": ""}
    )
    assert next(rows)[-1] == pin
    try:
        rows.throw(RuntimeError("the printer went away"))
    except RuntimeError:
        exc_info = sys.exc_info()
    request = rf.get("/")
    request.user = tree["operator"]
    data = ExceptionReporter(request, *exc_info).get_traceback_data()
    shown = [str(value) for frame in data["frames"] for _, value in frame["vars"]]
    assert len(data["frames"]) >= 2
    assert not any(pin in value for value in shown)


def test_weak_or_shared_webhook_passphrases_fail_the_deploy_check(settings):
    assert check_webhook_keys() == []
    settings.WEBHOOKS_SECRET_KEYS = ["change-me-to-48-random-characters"]
    assert ids(check_webhook_keys()) == {"topup.E004"}
    settings.WEBHOOKS_SECRET_KEYS = [settings.SECRET_KEY]
    assert "topup.E005" in ids(check_webhook_keys())
