"""`make run`: migrate, load the demo data, then run gunicorn, a Celery worker and Celery beat
together until Ctrl-C, printing the URL and the demo logins."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from governance import embedded
from governance.management.commands import seed_demo


class Command(BaseCommand):
    help = "Run the whole platform locally: web server, Celery worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-seed", action="store_true", help="Skip the demo data.")

    def handle(self, *args, port: int, no_seed: bool, **options):
        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        logins = [] if no_seed else seed_demo.seed()

        python = sys.executable
        bin_dir = os.path.dirname(python)
        env = {**os.environ, "PORT": str(port), "BIND": f"127.0.0.1:{port}"}
        processes = {
            "web": [
                os.path.join(bin_dir, "gunicorn"),
                "-c",
                str(settings.BASE_DIR / "governance" / "gunicorn.conf.py"),
                "governance.wsgi",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "governance",
                "worker",
                "-l",
                "INFO",
                "--concurrency",
                "2",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "governance",
                "beat",
                "-l",
                "INFO",
                "-s",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        }
        children: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, cmd in processes.items():
                # Own process groups: Ctrl-C reaches only us, and we stop children in order.
                children[name] = subprocess.Popen(  # noqa: S603 — fixed commands, no user input
                    cmd, env=env, start_new_session=True
                )
            url = f"http://127.0.0.1:{port}/"
            self._wait_until_up(url + "healthz", children, lambda: stopping)
            if not stopping:
                self._banner(url, logins)
            while not stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with code {child.returncode}; stopping.")
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self.stdout.write("\nStopping web server, worker and beat…")
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            if not os.environ.get("DATABASE_URL"):
                self.stdout.write("Stopping the local PostgreSQL…")
                from django.db import connections

                connections.close_all()
                embedded.stop_database()
            self.stdout.write("Stopped.")

    def _wait_until_up(self, url, children, stopping, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stopping():
            if any(child.poll() is not None for child in children.values()):
                return
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 — our own loopback URL
                    return
            except OSError:
                time.sleep(0.5)

    def _banner(self, url, logins):
        line = "─" * 72
        self.stdout.write(self.style.SUCCESS(f"\n{line}\n OpenRefusal is running at {url}\n{line}"))
        self.stdout.write(f" API docs:  {url}api/docs/     Public ledger: {url}ledger/")
        self.stdout.write(f" Admin:     {url}admin/")
        if logins:
            self.stdout.write("\n Demo logins (e-mail / password):")
            for role, email, password in logins:
                self.stdout.write(f"   {role:<26} {email:<30} {password}")
        self.stdout.write(
            "\n E-mails (sign-up verification, invitations) are printed in this terminal."
            "\n Press Ctrl-C to stop everything.\n"
        )
