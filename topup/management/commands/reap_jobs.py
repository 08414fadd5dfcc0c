from django.core.management.base import BaseCommand

from topup import services


class Command(BaseCommand):
    help = (
        "Resume or fail background work whose worker died (stale heartbeat). Safe to run at any "
        "time and to schedule, e.g. every minute; the worker also runs it before each job."
    )

    def handle(self, *args, **options):
        counts = services.jobs_reap()
        self.stdout.write(
            f"Bulk jobs queued again: {counts['requeued']}; bulk jobs failed: {counts['failed']}; "
            f"series failed: {counts['series_failed']}."
        )
