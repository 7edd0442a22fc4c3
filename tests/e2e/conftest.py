"""Browser tests: Debian's headless Chromium driven by Playwright against pytest-django's
live server, plus an axe-core check that fails on serious or critical violations.

Never downloads a browser: without /usr/bin/chromium the tests are skipped, unless
REQUIRE_BROWSER=1 (CI), where a missing browser is an error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
E2E_DIR = Path(__file__).parent
BLOCKING_IMPACTS = ("serious", "critical")
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E_DIR not in Path(item.fspath).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        # The live server needs committed data, so these tests flush the database afterwards;
        # serialized rollback restores what migrations created (e.g. the "moderators" group)
        # for the tests that run after them.
        if item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True))


@pytest.fixture(scope="package")
def browser():
    """One Chromium for all browser tests.

    Scoped to this package rather than the session: while Playwright's sync API is alive its
    event loop counts as running in this thread, so Django refuses ORM calls unless
    DJANGO_ALLOW_ASYNC_UNSAFE is set (safe here: the loop is Playwright's own). Closing the
    browser when the e2e tests end stops the loop and restores the variable, so no test after
    them runs without Django's async-safety check, and no subprocess they start inherits it
    (`check --deploy` rejects it)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {message}", pytrace=False)
        pytest.skip(message)
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # The migrations' data (e.g. the "moderators" group), serialized once for rollback
    # emulation, hangs off the connection objects. While Playwright's event loop runs, Django
    # hands this thread fresh connection objects without it, so a flush after one browser test
    # would not be undone for the next: carry it over.
    serialized = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            for alias, contents in serialized.items():
                connections[alias]._test_serialized_contents = contents
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture
def new_context(browser, live_server):
    """Make a fresh browser context (cookies, storage) against the live server; options such as
    `java_script_enabled=False` or `timezone_id="Asia/Tokyo"` are passed to Playwright."""
    contexts = []

    def make(**options):
        options.setdefault("base_url", live_server.url)
        options.setdefault("locale", "en-GB")
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """A page in its own context: nothing carries over from one test to the next."""
    return new_context().new_page()


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        impact, rule = violation["impact"], violation["id"]
        lines.append(f"[{impact}] {rule}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"][:5]:
            lines.append(f"    at {', '.join(map(str, node['target']))}")
            lines.append(f"       {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n       ")
            if summary:
                lines.append(f"       {summary}")
        if len(violation["nodes"]) > 5:
            lines.append(f"    … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


def assert_accessible(page) -> None:
    """Run axe-core on the page as it is now; fail listing every serious or critical issue."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = results.response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        pytest.fail(
            f"axe-core found {len(blocking)} serious or critical problem(s) on {page.url}:\n"
            + format_violations(blocking),
            pytrace=False,
        )


@pytest.fixture
def axe_check():
    return assert_accessible
