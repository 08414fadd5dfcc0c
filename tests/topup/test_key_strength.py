"""The deploy check judges a PIN key by the randomness it can carry, not by a rule that real
random keys break (issue 24: 23 % of secrets.token_hex(32) keys were refused)."""

import secrets
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from topup.checks import estimated_bits, key_weakness

COUNT = 10_000


def _openssl_hex32(count: int) -> list[str]:
    """`count` keys of `openssl rand -hex 32`, from one call (64 hex digits each)."""
    out = subprocess.run(
        ["openssl", "rand", "-hex", str(32 * count)], capture_output=True, text=True, check=True
    ).stdout.strip()
    return [out[i : i + 64] for i in range(0, len(out), 64)]


GENERATORS = {
    "secrets.token_hex(32)": lambda: [secrets.token_hex(32) for _ in range(COUNT)],
    "secrets.token_urlsafe(32)": lambda: [secrets.token_urlsafe(32) for _ in range(COUNT)],
    "32 random hex digits": lambda: [secrets.token_hex(16) for _ in range(COUNT)],
}


@pytest.mark.parametrize("hkdf", ["", "hkdf:"])
@pytest.mark.parametrize("generator", [*GENERATORS, "openssl rand -hex 32"])
def test_keys_from_real_generators_all_pass(generator, hkdf):
    if generator.startswith("openssl"):
        if shutil.which("openssl") is None:
            pytest.skip("openssl is not installed")
        keys = _openssl_hex32(COUNT)
    else:
        keys = GENERATORS[generator]()
    assert len(keys) == COUNT
    refused = [(key, problem) for key in keys if (problem := key_weakness(hkdf + key))]
    assert refused == []


def test_thirty_two_hex_digits_are_exactly_128_bits():
    assert estimated_bits("eee23ca62a2777c18bb1939ea064bb19") == 128
    assert key_weakness("hkdf:eee23ca62a2777c18bb1939ea064bb19") == ""
    assert key_weakness("eee23ca62a2777c18bb1939ea064bb1") != ""  # 31 digits


@pytest.mark.parametrize(
    "weak",
    [
        "x",
        "short-but-random-Qx7",
        "hkdf:" + "a" * 40,
        "ab" * 20,
        "0123456789abcdef" * 3,
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "passwordpasswordpasswordpassword1",
        "correcthorsebatterystaplecorrecthorse",
        "change-me-long-random-string-0123456789",
        "hkdf:test-only-pin-hmac-key-0123456789abcdefghij",
        "demo-only-pin-hmac-key-never-use-in-production",
        "Secret-Password-Admin-Default-Example-123",
    ],
)
def test_short_placeholder_dictionary_and_repeated_keys_are_refused(weak):
    assert key_weakness(weak) != ""


def test_the_issue_key_passes_check_deploy(settings):
    """The repro of issue 24: this key used to fail with topup.E002."""
    settings.PIN_HMAC_KEY = "hkdf:eee23ca62a2777c18bb1939ea064bb1937890f6af1bc43b0e0935f4856409f90"
    settings.PIN_ENCRYPTION_KEYS = "1:hkdf:" + secrets.token_urlsafe(32)
    call_command("check", deploy=True, tags=["security"])
    settings.PIN_HMAC_KEY = "hkdf:" + "ab" * 32
    with pytest.raises(SystemCheckError, match="PIN_HMAC_KEY is too predictable"):
        call_command("check", deploy=True, tags=["security"])
