"""Which kind of work this process does, for the database's time limits.

"web": the app servers (gunicorn, runserver) and anything else that serves requests: short
statements, short lock waits, so a stuck query fails the one request instead of holding a
worker thread. "worker": management commands (`task_worker`, `reap_jobs`, the nightly
commands, key rotation): long statements (a series, a recount) and longer lock waits.
`DB_WORK_ROLE` overrides the guess.
"""

import sys
from pathlib import Path

from django.conf import settings

WEB_COMMANDS = {"runserver", "testserver"}


def work_role() -> str:
    """'web' or 'worker' (see the module docstring)."""
    if settings.DB_WORK_ROLE:
        return settings.DB_WORK_ROLE
    argv = sys.argv
    if Path(argv[0]).name == "manage.py" and len(argv) > 1 and argv[1] not in WEB_COMMANDS:
        return "worker"
    return "web"


def session_timeouts() -> dict[str, int]:
    """Milliseconds of statement_timeout and lock_timeout for this process (0: none)."""
    role = work_role()
    return {
        "statement_timeout": settings.DB_STATEMENT_TIMEOUT[role] * 1000,
        "lock_timeout": settings.DB_LOCK_TIMEOUT[role] * 1000,
    }
