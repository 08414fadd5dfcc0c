"""Triggers keeping `topup_cardsummary` exact, in the transaction of every change of a card.

PostgreSQL: statement-level triggers with transition tables, so one statement (a COPY batch of
20,000 cards, a mass edit of a million) adds one delta row per changed key, not per card.
A redemption adds two rows (-1 for the card's old key, +1 for its new one); the table is only
ever inserted into by them, so concurrent redemptions of one series never wait on a shared row.
SQLite (the demo): row-level triggers doing the same per card.
"""

from django.db import migrations

KEY = "series_id, reseller_id, currency, status, amount, expires_at"
PG_MONTHS = (
    "date_trunc('month', created_at AT TIME ZONE 'UTC')::date,"
    " date_trunc('month', activated_at AT TIME ZONE 'UTC')::date"
)
COLUMNS = f"{KEY}, created_month, activated_month"

PG_CREATE = f"""
CREATE FUNCTION topup_card_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO topup_cardsummary ({COLUMNS}, cards)
        SELECT {KEY}, {PG_MONTHS}, count(*) FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO topup_cardsummary ({COLUMNS}, cards)
        SELECT {KEY}, {PG_MONTHS}, -count(*) FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
    ELSE
        INSERT INTO topup_cardsummary ({COLUMNS}, cards)
        SELECT {COLUMNS}, sum(n) FROM (
            SELECT {KEY}, {PG_MONTHS}, 1 AS n FROM new_rows
            UNION ALL
            SELECT {KEY}, {PG_MONTHS}, -1 FROM old_rows
        ) AS changed (series_id, reseller_id, currency, status, amount, expires_at,
                      created_month, activated_month, n)
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
        HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER topup_card_summary_insert AFTER INSERT ON topup_card
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION topup_card_summary();
CREATE TRIGGER topup_card_summary_update AFTER UPDATE ON topup_card
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION topup_card_summary();
CREATE TRIGGER topup_card_summary_delete AFTER DELETE ON topup_card
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION topup_card_summary();

CREATE FUNCTION topup_card_summary_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM topup_cardsummary;
    RETURN NULL;
END
$$;
CREATE TRIGGER topup_card_summary_truncate AFTER TRUNCATE ON topup_card
    FOR EACH STATEMENT EXECUTE FUNCTION topup_card_summary_truncate();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS topup_card_summary_insert ON topup_card;
DROP TRIGGER IF EXISTS topup_card_summary_update ON topup_card;
DROP TRIGGER IF EXISTS topup_card_summary_delete ON topup_card;
DROP TRIGGER IF EXISTS topup_card_summary_truncate ON topup_card;
DROP FUNCTION IF EXISTS topup_card_summary();
DROP FUNCTION IF EXISTS topup_card_summary_truncate();
"""


def _sqlite_values(row: str, sign: str) -> str:
    months = (
        f"strftime('%Y-%m-01', {row}.created_at),"
        f" CASE WHEN {row}.activated_at IS NULL THEN NULL"
        f" ELSE strftime('%Y-%m-01', {row}.activated_at) END"
    )
    values = ", ".join(f"{row}.{column.strip()}" for column in KEY.split(","))
    return f"INSERT INTO topup_cardsummary ({COLUMNS}, cards) VALUES ({values}, {months}, {sign}1);"


SQLITE_CREATE = [
    "CREATE TRIGGER topup_card_summary_insert AFTER INSERT ON topup_card FOR EACH ROW BEGIN "
    + _sqlite_values("NEW", "")
    + " END",
    "CREATE TRIGGER topup_card_summary_update AFTER UPDATE ON topup_card FOR EACH ROW BEGIN "
    + _sqlite_values("OLD", "-")
    + " "
    + _sqlite_values("NEW", "")
    + " END",
    "CREATE TRIGGER topup_card_summary_delete AFTER DELETE ON topup_card FOR EACH ROW BEGIN "
    + _sqlite_values("OLD", "-")
    + " END",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS topup_card_summary_{event}" for event in ("insert", "update", "delete")
]

# The cards that exist already, as the starting rows.
FILL = {
    "postgresql": f"INSERT INTO topup_cardsummary ({COLUMNS}, cards)"
    f" SELECT {KEY}, {PG_MONTHS}, count(*) FROM topup_card GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
    "sqlite": f"INSERT INTO topup_cardsummary ({COLUMNS}, cards)"
    f" SELECT {KEY}, strftime('%Y-%m-01', created_at),"
    " CASE WHEN activated_at IS NULL THEN NULL ELSE strftime('%Y-%m-01', activated_at) END,"
    " count(*) FROM topup_card GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
}


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_CREATE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement, params=None)
    else:
        raise RuntimeError(f"No card summary triggers for {vendor}.")
    schema_editor.execute(FILL[vendor], params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = [PG_DROP] if vendor == "postgresql" else SQLITE_DROP
    for statement in statements:
        schema_editor.execute(statement, params=None)
    schema_editor.execute("DELETE FROM topup_cardsummary", params=None)


class Migration(migrations.Migration):
    dependencies = [("topup", "0005_card_summary")]

    operations = [migrations.RunPython(forwards, backwards)]
