"""`manage.py task_worker`: django-tasks' `db_worker`, but one that waits out a database outage.

`db_worker` ends its process on any database error while it looks for the next task (the
server restarting, a failover), so a worker without a supervisor stays gone. This one closes
the broken connection, waits (exponential backoff up to 8 s, for as long as it takes) until
the database answers, and goes on. The jobs' own transactions are retried by the jobs
(config/db_faults.py); a job whose task was cut off is handed on by the reaper.
"""

import logging
import time

from django.db import Error, connection
from django_tasks_db.management.commands import db_worker

from config.db_faults import drop_broken_connections, outage

logger = logging.getLogger("topup.worker")
LONGEST_WAIT = 8.0


def wait_for_database(*, sleep=time.sleep) -> int:
    """Block until a new connection answers `SELECT 1`; returns the tries it took."""
    delay, tries = 0.25, 0
    while True:
        tries += 1
        drop_broken_connections()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return tries
        except Error as exc:
            if outage(exc) is None:
                raise
            logger.warning("Task worker: the database is away (%s); next try in %.2f s", exc, delay)
        sleep(delay)
        delay = min(delay * 2, LONGEST_WAIT)


class Worker(db_worker.Worker):
    def run(self) -> None:
        while self.running:
            try:
                return super().run()
            except Error as exc:
                if outage(exc) is None:
                    raise
                logger.warning("Task worker: %s; waiting for the database.", outage(exc))
                wait_for_database()
                logger.warning("Task worker: the database is back; carrying on.")
        return None


class Command(db_worker.Command):
    help = "Run the background worker (db_worker that waits out database outages)."

    def handle(
        self,
        *,
        verbosity,
        queue_name,
        interval,
        batch,
        backend_name,
        startup_delay,
        max_tasks,
        worker_id,
        exclude_queues,
        **options,
    ) -> None:
        self.configure_logging(verbosity)
        worker = Worker(
            queue_names=queue_name.split(","),
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=exclude_queues.split(",") if exclude_queues else [],
        )
        worker.configure_signals()
        worker.run()
