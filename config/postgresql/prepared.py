"""Server-side prepared statements for the few statements every redemption runs.

PostgreSQL parses and plans a statement each time it arrives as text; the redemption's one
statement (eight CTEs) spends more time there than running. `execute_prepared` sends
`PREPARE` once per connection and statement text (the text with `%s` numbered as `$1`,
`$2`, ...), then `EXECUTE name(...)` with the same parameters. The names are a digest of the
text, so two callers of one text share it; a new connection (Django reconnects) prepares
again. Prepared statements belong to a server session: this needs connections that are not
shared between clients by a pooler in transaction mode (such a pooler would need
`execute_prepared` turned off: `PREPARED_STATEMENTS=false`). Other databases, and text with a
literal `%`, run as they are.
"""

import hashlib
import itertools
import re

from django.conf import settings

_PLACEHOLDER = re.compile(r"%s")


def execute_prepared(cursor, sql: str, params: list) -> None:
    """`cursor.execute(sql, params)`, through a prepared statement on PostgreSQL."""
    connection = cursor.db
    if connection.vendor != "postgresql" or "%%" in sql or not settings.PREPARED_STATEMENTS:
        cursor.execute(sql, params)
        return
    name = "topup_" + hashlib.blake2b(sql.encode(), digest_size=10).hexdigest()
    prepared = _prepared(connection)
    if name not in prepared:
        numbers = itertools.count(1)
        text = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
        if next(numbers) != len(params) + 1:  # not one parameter per placeholder
            cursor.execute(sql, params)
            return
        cursor.execute(f"PREPARE {name} AS {text}")
        prepared.add(name)
    cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)


def _prepared(connection) -> set[str]:
    """The names prepared on this connection's current server session."""
    raw = connection.connection
    known = getattr(connection, "_prepared_statements", None)
    if known is None or known[0] is not raw:
        known = connection._prepared_statements = (raw, set())
    return known[1]
