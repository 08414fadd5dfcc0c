"""The test database as other programs reach it: server processes a test starts, pg_dump."""

import urllib.parse

from django.db import connection

from config import embedded


def database_url() -> str:
    """DATABASE_URL of the test database, by host and port or by socket (the embedded
    server's), for a server process that a test starts."""
    db = connection.settings_dict
    user = urllib.parse.quote(db["USER"] or "postgres")
    password = urllib.parse.quote(db["PASSWORD"] or "")
    socket_dir = db.get("OPTIONS", {}).get("host")
    if socket_dir and not db["HOST"]:
        port = db.get("OPTIONS", {}).get("port") or db["PORT"] or 5432
        return f"postgres://{user}:{password}@/{db['NAME']}?host={socket_dir}&port={port}"
    host = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
    return f"postgres://{user}:{password}@{host}/{db['NAME']}"


def pg_dump(*args: str) -> list[str]:
    """pg_dump of the test database: the embedded wheel's, which reads any server up to its
    own version (a machine's own pg_dump may be older than the server, or missing)."""
    params = connection.get_connection_params()
    dsn = " ".join(
        f"{key}='{value}'"
        for key, value in {
            "dbname": params.get("dbname") or params.get("database"),
            "user": params.get("user"),
            "password": params.get("password"),
            "host": params.get("host"),
            "port": params.get("port"),
        }.items()
        if value
    )
    return [str(embedded.binaries() / "pg_dump"), *args, f"--dbname={dsn}"]
