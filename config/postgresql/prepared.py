"""Server-side prepared statements for the few statements every redemption runs.

PostgreSQL parses and plans a statement each time it arrives as text; the redemption's one
statement (eight CTEs) spends more time there than running. `execute_prepared` sends
`PREPARE` once per server session and statement text (the text with `%s` numbered as `$1`,
`$2`, ...), then `EXECUTE name(...)` with the same parameters. The names are a digest of the
text: a name means one text, on every server session, so two callers of one text share it.

Straight to PostgreSQL (or behind a session-mode pooler) a connection is one server session:
each connection remembers what it prepared, and a new connection (Django reconnects) prepares
again.

Behind a transaction-mode pooler (`DATABASE_POOLER=transaction`, PgBouncer before 1.21, which
knows nothing of prepared statements) each transaction may run on another server session, and
a statement prepared by one client stays in that session for the next client. Since a name is
its text, any session that has it prepared has the right one, so the statement is EXECUTEd
first; a session that lacks it answers "prepared statement does not exist" (26000, before
anything ran) and is sent `PREPARE name AS ...; EXECUTE name(...)` as one query string (one
round trip, one transaction, so one server session). Once every pooled session has it, which
takes one miss per session, nothing is parsed again. That is for autocommitted statements
only: inside a transaction a failed EXECUTE would abort it, so the text runs as it is there.
`PREPARED_STATEMENTS=false` runs every text as it is. Other databases, and text with a literal
`%`, run as they are.
"""

import hashlib
import itertools
import re

from django.conf import settings
from django.db import Error

_PLACEHOLDER = re.compile(r"%s")
_MISSING = "26000"  # invalid_sql_statement_name: not prepared on this server session
_DUPLICATE = "42P05"  # duplicate_prepared_statement: prepared since the miss (another session)


def execute_prepared(cursor, sql: str, params: list) -> None:
    """`cursor.execute(sql, params)`, through a prepared statement on PostgreSQL."""
    connection = cursor.db
    if connection.vendor != "postgresql" or "%%" in sql or not settings.PREPARED_STATEMENTS:
        cursor.execute(sql, params)
        return
    numbers = itertools.count(1)
    text = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
    if next(numbers) != len(params) + 1:  # not one parameter per placeholder
        cursor.execute(sql, params)
        return
    name = "topup_" + hashlib.blake2b(sql.encode(), digest_size=10).hexdigest()
    execute = f"EXECUTE {name}({', '.join(['%s'] * len(params))})"
    if settings.DATABASE_POOLER == "transaction":
        _execute_pooled(cursor, sql, params, f"PREPARE {name} AS {text}", execute)
        return
    prepared = _prepared(connection)
    if name not in prepared:
        cursor.execute(f"PREPARE {name} AS {text}")
        prepared.add(name)
    cursor.execute(execute, params)


def _execute_pooled(cursor, sql: str, params: list, prepare: str, execute: str) -> None:
    """EXECUTE, else PREPARE and EXECUTE in one round trip (see the module doc)."""
    if cursor.db.in_atomic_block or not cursor.db.get_autocommit():
        cursor.execute(sql, params)
        return
    for _ in range(3):  # each miss or clash means another session: the third try is rare
        try:
            cursor.execute(execute, params)
            return
        except Error as exc:
            if _code(exc) != _MISSING:
                raise
        try:
            cursor.execute(f"{prepare}; {execute}", params)
            return
        except Error as exc:
            if _code(exc) != _DUPLICATE:
                raise
    cursor.execute(sql, params)


def _code(exc: Error) -> str | None:
    return getattr(exc.__cause__, "pgcode", None)


def _prepared(connection) -> set[str]:
    """The names prepared on this connection's current server session."""
    raw = connection.connection
    known = getattr(connection, "_prepared_statements", None)
    if known is None or known[0] is not raw:
        known = connection._prepared_statements = (raw, set())
    return known[1]
