from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from api import services
from api.models import ApiKey
from resellers.models import Reseller, User


class Command(BaseCommand):
    help = "Create, revoke or list API keys (the same services as the API keys page)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username acting (audited)")
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a key and print its token once")
        create.add_argument("--name", required=True, help="what the key is for")
        create.add_argument("--reseller", required=True, help="reseller id or exact name")
        create.add_argument(
            "--network",
            action="append",
            required=True,
            help="allowed address or network (repeat for more), e.g. 192.0.2.0/24",
        )
        revoke = actions.add_parser("revoke", help="revoke a key for good")
        revoke.add_argument("public_id", help="the key's public id (tk_<public id>_...)")
        actions.add_parser("list", help="the keys the user may see")

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user named {options['user']!r}.")
        try:
            getattr(self, f"_{options['action']}")(user, options)
        except PermissionDenied as exc:
            raise CommandError(f"{user} may not do this with API keys.") from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc

    def _create(self, user, options):
        name = options["reseller"]
        reseller = Reseller.objects.filter(pk=int(name) if name.isdigit() else None).first()
        reseller = reseller or Reseller.objects.filter(name=name).first()
        if reseller is None:
            raise CommandError(f"No reseller {name!r}.")
        key, token = services.api_key_create(
            user=user, name=options["name"], reseller=reseller, networks=options["network"]
        )
        self.stdout.write(
            f"API key {key.public_id} for {reseller} from {', '.join(key.allowed_networks)}."
        )
        self.stdout.write("Token (shown only now; send it as 'Authorization: Bearer <token>'):")
        self.stdout.write(token)

    def _revoke(self, user, options):
        public_id = options["public_id"].removeprefix("tk_").split("_")[0]
        key = ApiKey.objects.visible_to(user).filter(public_id=public_id).first()
        if key is None:
            raise CommandError(f"No API key {public_id!r} that {user} may see.")
        if services.api_key_revoke(user=user, key=key):
            self.stdout.write(self.style.SUCCESS(f"API key {public_id} is revoked."))
        else:
            self.stdout.write(f"API key {public_id} was already revoked.")

    def _list(self, user, options):
        for key in ApiKey.objects.visible_to(user).select_related("reseller"):
            state = "active" if key.is_active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            self.stdout.write(
                f"{key.public_id}  {key.name}  {key.reseller}  "
                f"{','.join(key.allowed_networks)}  last used {used}  {state}"
            )
