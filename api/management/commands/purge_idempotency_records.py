from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api import services


class Command(BaseCommand):
    help = "Forget the stored answers of API requests older than --days (default 7); run daily."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args, **options):
        if not 1 <= options["days"] <= 3650:
            raise CommandError("--days is from 1 to 3650.")
        try:
            deleted = services.idempotency_records_purge(older_than=timedelta(days=options["days"]))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"{deleted} stored answer(s) forgotten.")
