"""Helpers that cut the app's database connections from outside, as an administrator or a
server restart does."""

import threading
import time

import psycopg2
import pytest
from django.db import connection


class Terminator:
    """A thread on its own connection that terminates every other backend of the test
    database each time `when()` turns true (once per entry of `at`)."""

    def __init__(self, when):
        self.when = when
        self.killed: list[int] = []
        self.stop = threading.Event()
        params = connection.get_connection_params()
        self.params = {k: v for k, v in params.items() if k != "cursor_factory"}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def terminate_now(self) -> int:
        with psycopg2.connect(**self.params) as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            count = cursor.fetchone()[0]
        conn.close()
        self.killed.append(count)
        return count

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                if self.when(self):
                    self.terminate_now()
            except psycopg2.Error:
                pass
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


@pytest.fixture
def terminator():
    return Terminator
