"""`manage.py create_api_token EMAIL --name NAME`: create a personal API token, print its secret."""

from django.core.management.base import BaseCommand, CommandError

from governance.errors import DomainError
from governance.models import ApiToken, User
from governance.services.tokens import api_token_create, max_days


class Command(BaseCommand):
    help = (
        "Create a personal API token for the account with this e-mail address and print the "
        "token (only the token, so scripts can capture it). It is not shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The account's e-mail address.")
        parser.add_argument("--name", required=True, help="A label for the token.")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=ApiToken.Scope.values,
            help="Repeat for several; default: read:public.",
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help=f"Days until it stops working (1 to {max_days()}); default: never.",
        )

    def handle(self, *args, email, name, scopes, expires_days, **options):
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No account has the e-mail address {email!r}.")
        if not user.is_active:
            raise CommandError("This account is inactive.")
        try:
            _token, raw = api_token_create(
                user=user,
                name=name,
                scopes=scopes or [ApiToken.Scope.READ_PUBLIC.value],
                expires_in_days=expires_days,
            )
        except DomainError as error:
            problems = [p for ps in error.fields.values() for p in ps] or [error.message]
            raise CommandError(" ".join(problems)) from None
        self.stdout.write(raw)
