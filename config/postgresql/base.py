"""Django's PostgreSQL backend with a health check that costs no round trip.

`CONN_HEALTH_CHECKS` makes Django ask a reused connection `SELECT 1` before the first query of
every request: one more round trip on every API call, about a tenth of a worker's time in
`bench/api.py`. An idle connection that the server closed (a restart, an administrator's
`pg_terminate_backend`, an idle timeout) has the server's last message and the end of the
stream waiting on its socket, so a connection with nothing to read is taken as usable at once,
and only one with something waiting is asked `SELECT 1` as before. What neither check sees in
advance, a peer that vanished without a word, fails the request as it would have failed the
`SELECT 1`.

A new connection also gets the time limits of this process's kind of work (statement_timeout,
lock_timeout: config/work_role.py), in the one round trip Django makes to set it up; behind a
transaction-mode pooler (DATABASE_POOLER) the pooler's per-pool connect_query sets them instead.
"""

import select

from django.conf import settings
from django.db.backends.postgresql import base

from config.work_role import session_timeouts


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        if self.connection is None or self.connection.closed:
            return False
        try:
            waiting, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not waiting or super().is_usable()

    def init_connection_state(self):
        super().init_connection_state()
        if settings.DATABASE_POOLER == "transaction":
            # A pooled server session serves other clients next: the pooler sets the limits
            # (deploy/pgbouncer/pgbouncer.ini, connect_query per pool).
            return
        limits = session_timeouts()
        with self.connection.cursor() as cursor:
            # psycopg2 binds on the client, so SET (which takes no server-side parameter) works.
            cursor.execute(
                "SET statement_timeout = %s; SET lock_timeout = %s",
                [limits["statement_timeout"], limits["lock_timeout"]],
            )
        if not self.get_autocommit():
            self.connection.commit()
