"""`manage.py verify_ledger`: recompute the public ledger's hash chain and name the first
broken link. Exits 1 when the chain is broken, so cron jobs and CI can alert on it."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from governance.selectors.ledger import ledger_verify


class Command(BaseCommand):
    help = (
        "Verify the public ledger: every entry's hash, its link to the previous entry and "
        'the contiguity of seq. Prints "OK: N entries, head <hash>" or '
        '"BROKEN at seq N: <reason>" (and exits 1).'
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--start",
            type=int,
            default=1,
            help="Begin at this seq, trusting the hash of the entry before it (default: 1).",
        )

    def handle(self, *args, start: int, **options):
        if start < 1:
            raise CommandError("--start must be 1 or more.")
        result = ledger_verify(start=start)
        if result.ok:
            self.stdout.write(str(result))
            return
        # The same line the standalone script prints, on stdout, so the two can be compared.
        self.stdout.write(str(result))
        self.stdout.flush()
        sys.exit(1)
