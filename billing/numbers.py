"""Account numbers: what a customer types on an IVR or a gateway maps from a caller's number.

A number is a value drawn from a database sequence (8 digits, from 10000000) followed by one
Luhn check digit, so a single mistyped digit or two swapped neighbours are caught before any
lookup. The sequence makes numbers unique and concurrency-safe on any number of app servers:
two transactions never draw the same value, and a rolled-back one only leaves a gap.
"""

from django.db import connections

SEQUENCE = "billing_account_number_seq"
FIRST_VALUE = 10_000_000
LENGTH = (9, 12)  # digits: 8-digit values plus the check digit, room to grow


def luhn_digit(digits: str) -> str:
    """The Luhn check digit to append to `digits`."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: these sit next to the check digit's position
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str(-total % 10)


def is_valid_account_number(value: str) -> bool:
    """Digits only, the right length, and the check digit matches."""
    return (
        value.isascii()
        and value.isdigit()
        and LENGTH[0] <= len(value) <= LENGTH[1]
        and luhn_digit(value[:-1]) == value[-1]
    )


def next_account_numbers(count: int, *, using: str = "default") -> list[str]:
    """`count` fresh account numbers, drawn from the sequence in one round trip."""
    if count < 1:
        return []
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [SEQUENCE, count])
        values = [row[0] for row in cursor.fetchall()]
    return [f"{value}{luhn_digit(str(value))}" for value in values]


def create_sequence(schema_editor) -> None:
    """The sequence itself (used by the migration that introduced account numbers)."""
    schema_editor.execute(f"CREATE SEQUENCE {SEQUENCE} START {FIRST_VALUE}", params=None)


def drop_sequence(schema_editor) -> None:
    schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}", params=None)
