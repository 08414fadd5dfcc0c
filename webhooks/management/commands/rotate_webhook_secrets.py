"""Re-encrypt every webhook signing secret under the first WEBHOOKS_SECRET_KEYS passphrase."""

from django.core.management.base import BaseCommand
from django.db import transaction

from webhooks.models import Subscription
from webhooks.secret_box import secret_box


class Command(BaseCommand):
    help = (
        "Re-encrypt every webhook signing secret under the first passphrase of "
        "WEBHOOKS_SECRET_KEYS; then the older passphrases can be removed."
    )

    def handle(self, *args, **options):
        moved = 0
        with transaction.atomic():
            for pk, token in Subscription.objects.select_for_update().values_list(
                "pk", "secret_encrypted"
            ):
                Subscription.objects.filter(pk=pk).update(secret_encrypted=secret_box.rotate(token))
                moved += 1
        self.stdout.write(f"{moved} webhook secrets encrypted under the current key.")
