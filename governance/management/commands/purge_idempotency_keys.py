"""`manage.py purge_idempotency_keys`: forget remembered POST responses past their window."""

from django.core.management.base import BaseCommand

from governance.idempotency import purge_expired_records


class Command(BaseCommand):
    help = "Delete Idempotency-Key and form-token records older than IDEMPOTENCY_HOURS."

    def handle(self, *args, **options):
        deleted = purge_expired_records()
        self.stdout.write(f"Deleted {deleted} expired idempotency record(s).")
