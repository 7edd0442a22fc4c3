"""One process of the concurrent ledger-append figure: `python -m bench.append_worker N START`.

Waits until the wall-clock START (so every process begins together), appends N entries through
`ledger_append`, each in its own transaction as a service would, and prints
"<first start> <last end> <count>" (epoch seconds) for the parent to combine.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    count, start_at = int(sys.argv[1]), float(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.db import connection, transaction

    from governance.services.ledger import ledger_append

    connection.ensure_connection()
    time.sleep(max(0.0, start_at - time.time()))
    started = time.time()
    for i in range(count):
        with transaction.atomic():
            ledger_append(
                actor="system",
                action="bench.append",
                subject=f"bench:{os.getpid()}",
                payload={"i": i},
            )
    print(f"{started} {time.time()} {count}", flush=True)


if __name__ == "__main__":
    main()
