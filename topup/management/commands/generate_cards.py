import sys

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from resellers.models import Reseller, User
from topup import services
from topup.forms import SeriesGenerateForm
from topup.pins import pin_service


class Command(BaseCommand):
    help = "Generate a series of top-up cards (the same form and service as the Generate page)."

    def add_arguments(self, parser):
        parser.add_argument("--amount", required=True)
        parser.add_argument("--quantity", required=True)
        parser.add_argument("--series", required=True, help="series code, e.g. 101")
        parser.add_argument("--pin-length", default=str(pin_service.default_length))
        parser.add_argument("--reseller", required=True, help="owner: reseller id or exact name")
        parser.add_argument("--expiry", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM; none: no expiry")
        parser.add_argument("--valid-from", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM; none: at once")
        parser.add_argument(
            "--released",
            action="store_true",
            help="release the cards at once (e-PINs); default: in stock until released",
        )
        parser.add_argument("--currency", default="", help="default: the reseller's currency")
        parser.add_argument("--label", default="", help="free text to find the series by")
        parser.add_argument("--notes", default="", help="free text kept with the series")
        parser.add_argument("--user", required=True, help="username generating the series")

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        form = SeriesGenerateForm(
            {
                "amount": options["amount"],
                "quantity": options["quantity"],
                "code": options["series"],
                "pin_length": options["pin_length"],
                "reseller": _reseller_key(options["reseller"]),
                "expires_at": options["expiry"] or "",
                "valid_from": options["valid_from"] or "",
                "in_stock": "0" if options["released"] else "1",
                "currency": options["currency"],
                "label": options["label"],
                "notes": options["notes"],
            },
            user=user,
        )
        if not form.is_valid():
            raise CommandError(_describe(form.errors.as_data()))
        bar = ProgressBar(form.cleaned_data["quantity"], self.stdout)
        try:
            series = services.series_generate(
                user=user,
                request=services.SeriesRequest(**form.cleaned_data),
                background=False,
                progress=bar.update,
            )
        except ValidationError as exc:
            raise CommandError(_describe(exc.error_dict)) from exc
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


# The options as the command line spells them, for messages.
OPTION_NAMES = {
    "code": "series",
    "pin_length": "pin-length",
    "expires_at": "expiry",
    "valid_from": "valid-from",
    "in_stock": "released",
}


def _reseller_key(key: str) -> str:
    """A reseller named exactly `key` stands for its id; anything else is taken as an id."""
    named = Reseller.objects.filter(name=key).values_list("pk", flat=True).first()
    return str(named) if named is not None else key


def _describe(errors: dict) -> str:
    return "\n".join(
        message if field == "__all__" else f"--{OPTION_NAMES.get(field, field)}: {message}"
        for field, items in errors.items()
        for error in items
        for message in error
    )


class ProgressBar:
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
