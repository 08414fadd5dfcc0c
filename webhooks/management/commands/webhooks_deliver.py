from django.core.management.base import BaseCommand

from webhooks.delivery import deliveries_run


class Command(BaseCommand):
    help = "Deliver the webhooks that are due (a safety net beside the task worker; cron it)."

    def handle(self, *args, **options):
        self.stdout.write(f"{deliveries_run()} delivery tries.")
