import sys
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from resellers.models import Reseller, User
from topup import services
from topup.pins import pin_service


class Command(BaseCommand):
    help = "Generate a series of top-up cards (the same service as the Generate form)."

    def add_arguments(self, parser):
        parser.add_argument("--amount", required=True)
        parser.add_argument("--quantity", required=True, type=int)
        parser.add_argument("--series", required=True, help="series code, e.g. 101")
        parser.add_argument("--pin-length", type=int, default=pin_service.default_length)
        parser.add_argument("--reseller", required=True, help="owner: reseller id or exact name")
        parser.add_argument("--expiry", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM; none: no expiry")
        parser.add_argument("--valid-from", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM; none: at once")
        parser.add_argument(
            "--released",
            action="store_true",
            help="release the cards at once (e-PINs); default: in stock until released",
        )
        parser.add_argument("--currency", default="", help="default: the reseller's currency")
        parser.add_argument("--user", required=True, help="username generating the series")

    def handle(self, *args, **options):
        try:
            amount = Decimal(options["amount"])
        except InvalidOperation as exc:
            raise CommandError("--amount must be a number such as 10.00") from exc
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        key = options["reseller"]
        reseller = Reseller.objects.filter(pk=int(key) if key.isdigit() else None).first()
        reseller = reseller or Reseller.objects.filter(name=key).first()
        if reseller is None:
            raise CommandError(f"No reseller {key!r}.")
        expires_at = _when(options["expiry"], "--expiry")
        valid_from = _when(options["valid_from"], "--valid-from")
        request = services.SeriesRequest(
            reseller=reseller,
            amount=amount,
            quantity=options["quantity"],
            code=options["series"],
            pin_length=options["pin_length"],
            expires_at=expires_at,
            valid_from=valid_from,
            in_stock=not options["released"],
            currency=options["currency"].upper(),
        )
        bar = _ProgressBar(options["quantity"], self.stdout)
        try:
            series = services.series_generate(
                user=user, request=request, background=False, progress=bar.update
            )
        except ValidationError as exc:
            messages = [f"{field}: {m}" for field, ms in exc.message_dict.items() for m in ms]
            raise CommandError("\n".join(messages)) from exc
        except PermissionDenied as exc:
            raise CommandError(f"{user} may not generate series.") from exc
        bar.update(series.quantity)
        bar.close()
        last = series.first_number + series.quantity - 1
        self.stdout.write(
            self.style.SUCCESS(
                f"Series {series.code}: {series.quantity:,} cards of {series.amount} "
                f"{series.currency}, {series.code}-{series.first_number:08d} to "
                f"{series.code}-{last:08d}, "
                + ("in stock until released." if series.in_stock else "released.")
            )
        )


def _when(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        return timezone.make_aware(datetime.fromisoformat(value))
    except ValueError as exc:
        raise CommandError(f"{option} must look like 2027-12-31 or 2027-12-31T23:59") from exc


class _ProgressBar:
    """A one-line bar on a terminal; nothing when the output is not one."""

    def __init__(self, total: int, out):
        self.total, self.out = total, out
        self.shown = out.isatty() if hasattr(out, "isatty") else sys.stdout.isatty()

    def update(self, done: int) -> None:
        if self.shown:
            filled = int(30 * done / self.total)
            self.out.write(
                f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:,}/{self.total:,}", ending=""
            )
            self.out.flush()

    def close(self) -> None:
        if self.shown:
            self.out.write("")
