import pytest
from cryptography.exceptions import InvalidTag

from topup.pins import InvalidPin, PinService


def test_pins_are_digits_of_the_length_with_leading_zeros_kept(monkeypatch):
    service = PinService(hmac_key="k", encryption_keys="1:a")
    monkeypatch.setattr(PinService, "randbelow", staticmethod(lambda n: 42))
    assert service.generate(12) == "000000000042"
    monkeypatch.undo()
    pins = {service.generate(8) for _ in range(500)}
    assert all(len(p) == 8 and p.isdigit() for p in pins)
    assert len(pins) > 490  # drawn, not repeated


@pytest.mark.parametrize("length", [7, 21, 0])
def test_lengths_outside_8_to_20_are_refused(length):
    with pytest.raises(InvalidPin):
        PinService(hmac_key="k", encryption_keys="1:a").check_length(length)


def test_typed_pins_lose_spaces_and_dashes_and_must_be_digits():
    assert PinService.normalise(" 1234-5678 9012 ") == "123456789012"
    for bad in ["12a4", "１２３４", "", "12.34"]:
        with pytest.raises(InvalidPin):
            PinService.normalise(bad)


def test_the_digest_is_keyed_and_stable():
    one = PinService(hmac_key="k1", encryption_keys="1:a")
    assert one.digest("123456789012") == one.digest("123456789012")
    assert one.digest("123456789012") != PinService(hmac_key="k2").digest("123456789012")
    assert "123456789012" not in one.digest("123456789012")


def test_encryption_keys_rotate_and_old_cards_still_decrypt():
    old = PinService(hmac_key="k", encryption_keys="1:first")
    version, token = old.encrypt("123456789012", "101-00000001")
    assert version == 1 and b"123456789012" not in token
    rotated = PinService(hmac_key="k", encryption_keys="1:first,2:second")
    assert rotated.decrypt(token, version, "101-00000001") == "123456789012"
    new_version, new_token = rotated.encrypt("999999999999", "101-00000002")
    assert new_version == 2
    assert rotated.decrypt(new_token, 2, "101-00000002") == "999999999999"


def test_a_ciphertext_moved_to_another_card_does_not_decrypt():
    service = PinService(hmac_key="k", encryption_keys="1:a")
    version, token = service.encrypt("123456789012", "101-00000001")
    with pytest.raises(InvalidTag):
        service.decrypt(token, version, "101-00000002")
