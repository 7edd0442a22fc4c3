"""The public ledger: appending and chaining, the database guard, verification (command and
standalone script, which must agree), and the `/ledger/` pages and export."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from governance.canonical import canonical_json
from governance.models import LedgerEntry, User
from governance.models.ledger import GENESIS_HASH
from governance.selectors.ledger import (
    SYSTEM_NAME,
    entry_document,
    ledger_actor_names,
    ledger_export_lines,
    ledger_page,
    ledger_verify,
    payload_summary,
)
from governance.services.ledger import entry_hash, ledger_append
from tests.factories import UserFactory

SCRIPT = Path(settings.BASE_DIR) / "docs" / "verify_ledger.py"
TABLE = LedgerEntry._meta.db_table
TRIGGER = "governance_ledger_no_update_delete"


def append(n: int = 1, *, actor="system", action="test.happened", subject="thing:1", **kw):
    entries = []
    with transaction.atomic():
        for i in range(n):
            payload = kw.get("payload", {"i": i})
            entries.append(
                ledger_append(actor=actor, action=action, subject=subject, payload=payload)
            )
    return entries


def export_bytes() -> bytes:
    return b"".join(ledger_export_lines())


def run_script(data: bytes, tmp_path: Path | None = None) -> subprocess.CompletedProcess:
    """The standalone verifier, as a reader would run it: a separate Python process."""
    if tmp_path is None:
        return subprocess.run(
            [sys.executable, str(SCRIPT)], input=data, capture_output=True, check=False
        )
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(data)
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, check=False
    )


def run_command(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_ledger", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue().strip()
    return 0, out.getvalue().strip()


def tamper(sql: str, params: list) -> None:
    """Edit the ledger behind the service's back, as someone with database access could:
    switch the trigger off (inside this test's transaction, so it is restored afterwards)."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TRIGGER}")


# --- Appending --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_starts_the_chain_at_the_genesis_hash():
    (entry,) = append()
    assert entry.seq == 1
    assert entry.prev_hash == GENESIS_HASH == "0" * 64
    assert len(entry.hash) == 64


@pytest.mark.django_db
def test_it_chains_each_entry_to_the_one_before_and_the_hash_is_recomputable():
    entries = append(5)
    stored = list(LedgerEntry.objects.order_by("seq"))
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(stored):
        assert after.prev_hash == before.hash
    for entry, fresh in zip(entries, stored, strict=True):
        document = entry_document(fresh)
        claimed = document.pop("hash")
        assert claimed == entry.hash == entry_hash(document)
        # Exactly the documented bytes: sorted keys, no spaces, UTF-8.
        raw = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert claimed == hashlib.sha256(raw.encode()).hexdigest()


@pytest.mark.django_db
def test_it_records_people_and_objects_as_references(citizen, company):
    with transaction.atomic():
        entry = ledger_append(
            actor=citizen, action="organization.viewed", subject=company, payload=None
        )
    assert entry.actor == f"user:{citizen.pk}"
    assert entry.subject == f"organization:{company.pk}"
    assert entry.payload == {}
    assert entry.subject_type == "organization"


@pytest.mark.django_db
def test_it_formats_time_in_utc_with_microseconds():
    (entry,) = append()
    at = entry_document(LedgerEntry.objects.get(seq=entry.seq))["at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", at)


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_append_outside_a_transaction():
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        ledger_append(actor="system", action="test.happened", subject="thing:1")
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_it_rolls_back_with_the_change_it_records():
    def change_that_fails():
        with transaction.atomic():
            ledger_append(actor="system", action="test.happened", subject="thing:1")
            raise ZeroDivisionError  # the recorded change fails after the append

    with pytest.raises(ZeroDivisionError):
        change_that_fails()
    assert not LedgerEntry.objects.exists()
    (entry,) = append()
    assert entry.seq == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"rate": 0.5}, TypeError),
        ({"nested": [1, {"x": 1.0}]}, TypeError),
        ({"name": "a\x00b"}, ValueError),
        ({"a\x00": 1}, ValueError),
        ({"big": 2**53}, ValueError),
        ({"small": -(2**60)}, ValueError),
        ({1: "int key"}, TypeError),
        ({"when": timezone.now()}, TypeError),
        ({"set": {1, 2}}, TypeError),
        ({"surrogate": "\ud800"}, ValueError),
    ],
)
def test_it_refuses_payloads_that_cannot_be_hashed_portably(payload, error):
    with pytest.raises(error), transaction.atomic():
        ledger_append(actor="system", action="test.happened", subject="thing:1", payload=payload)
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("action", ""), ("action", "a" * 81), ("subject", ""), ("subject", "s" * 121)],
)
def test_it_refuses_empty_or_oversized_references(field, value):
    kwargs = {"actor": "system", "action": "test.happened", "subject": "thing:1", field: value}
    with pytest.raises(ValueError, match=field), transaction.atomic():
        ledger_append(**kwargs)
    assert not LedgerEntry.objects.exists()


def test_it_serializes_canonically():
    assert (
        canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    )
    assert canonical_json({"n": 2**53 - 1}) == b'{"n":9007199254740991}'


# --- The database guard -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        f"UPDATE {TABLE} SET payload = '{{\"i\": 99}}' WHERE seq = 1",  # noqa: S608
        f"UPDATE {TABLE} SET hash = repeat('a', 64)",  # noqa: S608
        f"DELETE FROM {TABLE} WHERE seq = 1",  # noqa: S608
        f"DELETE FROM {TABLE}",  # noqa: S608
    ],
)
def test_it_rejects_update_and_delete_in_the_database(sql):
    append(2)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert LedgerEntry.objects.get(seq=1).payload == {"i": 0}
    assert LedgerEntry.objects.count() == 2


@pytest.mark.django_db
def test_it_rejects_orm_updates_and_deletes_too():
    (entry,) = append()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(seq=entry.seq).update(action="forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.delete()
    assert LedgerEntry.objects.get(seq=1).action == "test.happened"


# --- Verification: the command and the standalone script agree -------------------------------


@pytest.mark.django_db
def test_it_verifies_an_empty_ledger(tmp_path):
    code, out = run_command()
    assert (code, out) == (0, f"OK: 0 entries, head {GENESIS_HASH}")
    script = run_script(b"", tmp_path)
    assert script.returncode == 0
    assert script.stdout.decode().strip() == out


@pytest.mark.django_db
def test_it_verifies_a_whole_chain_and_the_script_agrees(tmp_path):
    entries = append(7, payload={"text": 'Ünïcödé ✓ "quoted" \\ /', "list": [1, [None]]})
    code, out = run_command()
    assert code == 0
    assert out == f"OK: 7 entries, head {entries[-1].hash}"
    by_file = run_script(export_bytes(), tmp_path)
    by_stdin = run_script(export_bytes())
    assert by_file.returncode == by_stdin.returncode == 0
    assert by_file.stdout.decode().strip() == by_stdin.stdout.decode().strip() == out


@pytest.mark.django_db
def test_it_verifies_from_a_later_start():
    entries = append(5)
    result = ledger_verify(start=3)
    assert result.ok
    assert (result.count, result.head) == (3, entries[-1].hash)
    assert run_command("--start", "4") == (0, f"OK: 2 entries, head {entries[-1].hash}")


@pytest.mark.django_db
def test_it_refuses_a_start_below_one():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("verify_ledger", "--start", "0", stdout=io.StringIO())


@pytest.mark.django_db
def test_it_names_the_edited_row_when_the_trigger_was_dropped(tmp_path):
    append(6)
    tamper(f"UPDATE {TABLE} SET payload = %s WHERE seq = 4", ['{"i": 1000}'])  # noqa: S608
    assert LedgerEntry.objects.get(seq=4).payload == {"i": 1000}

    code, out = run_command()
    assert code == 1
    assert out == "BROKEN at seq 4: hash mismatch"
    script = run_script(export_bytes(), tmp_path)
    assert script.returncode == 1
    assert script.stdout.decode().strip() == out


@pytest.mark.django_db
def test_it_names_the_next_row_when_a_forger_also_rewrote_the_hash(tmp_path):
    entries = append(5)
    forged = entry_document(LedgerEntry.objects.get(seq=2))
    del forged["hash"]
    forged["actor"] = "user:666"
    tamper(
        f"UPDATE {TABLE} SET actor = %s, hash = %s WHERE seq = 2",  # noqa: S608
        ["user:666", entry_hash(forged)],
    )
    code, out = run_command()
    assert (code, out) == (1, "BROKEN at seq 3: prev_hash does not match entry 2")
    script = run_script(export_bytes(), tmp_path)
    assert (script.returncode, script.stdout.decode().strip()) == (1, out)
    assert entries[2].prev_hash == entries[1].hash  # the honest link that the forgery broke


@pytest.mark.django_db
def test_it_names_a_deleted_row(tmp_path):
    append(5)
    tamper(f"DELETE FROM {TABLE} WHERE seq = 3", [])  # noqa: S608
    code, out = run_command()
    assert (code, out) == (1, "BROKEN at seq 3: missing seq 3")
    script = run_script(export_bytes(), tmp_path)
    assert (script.returncode, script.stdout.decode().strip()) == (1, out)


@pytest.mark.django_db
def test_it_names_a_forged_first_entry(tmp_path):
    append(2)
    tamper(f"UPDATE {TABLE} SET prev_hash = repeat('f', 64) WHERE seq = 1", [])  # noqa: S608
    code, out = run_command()
    assert (code, out) == (1, "BROKEN at seq 1: prev_hash is not the genesis hash")
    script = run_script(export_bytes(), tmp_path)
    assert script.stdout.decode().strip() == out


@pytest.mark.django_db
def test_it_still_exports_and_flags_a_row_tampered_into_holding_a_float(tmp_path):
    append(3)
    tamper(f"UPDATE {TABLE} SET payload = %s WHERE seq = 2", ['{"i": 1.5}'])  # noqa: S608
    assert run_command() == (1, "BROKEN at seq 2: hash mismatch")
    script = run_script(export_bytes(), tmp_path)
    assert script.stdout.decode().strip() == "BROKEN at seq 2: hash mismatch"


def test_the_script_rejects_lines_that_are_not_entries(tmp_path):
    script = run_script(b"this is not json\n", tmp_path)
    assert script.returncode == 1
    assert script.stdout.decode().strip() == "BROKEN at seq 1: line 1 is not a ledger entry"
    script = run_script(b'{"seq": 1}\n', tmp_path)
    assert script.returncode == 1


def test_the_script_uses_only_the_standard_library():
    source = SCRIPT.read_text()
    imports = set(re.findall(r"^import (\w+)|^from (\w+)", source, re.M))
    modules = {a or b for a, b in imports}
    assert modules <= {"hashlib", "json", "sys"}
    assert len(source.splitlines()) <= 45


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8).filter(lambda k: "\x00" not in k), children, max_size=4
        )
    ),
    max_leaves=12,
)
payloads = st.dictionaries(
    st.text(max_size=12).filter(lambda k: "\x00" not in k), json_values, max_size=5
)


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(payloads, min_size=1, max_size=6))
def test_it_verifies_any_chain_of_payloads_and_the_script_agrees(batch):
    with transaction.atomic():
        for payload in batch:
            ledger_append(
                actor="system", action="test.property", subject="thing:1", payload=payload
            )
        stored = [e.payload for e in LedgerEntry.objects.order_by("seq")][-len(batch) :]
        assert stored == batch  # jsonb gave back exactly what was hashed
        result = ledger_verify()
        assert result.ok, str(result)
        script = run_script(export_bytes())
        assert script.returncode == 0, script.stdout
        assert script.stdout.decode().strip() == str(result)
        transaction.set_rollback(True)  # each example starts from an empty ledger


# --- Selectors ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_names_actors_in_one_query(django_assert_num_queries, citizen):
    gone = UserFactory(display_name="Was Here")
    gone.deleted_at = timezone.now()
    gone.save()
    nameless = UserFactory(display_name="")
    actors = [f"user:{citizen.pk}", f"user:{gone.pk}", f"user:{nameless.pk}", "user:999999"]
    with django_assert_num_queries(1):
        names = ledger_actor_names([*actors, "system", "user:99999999999999999999999"])
    assert names[f"user:{citizen.pk}"] == "Citizen Ada"
    assert names[f"user:{gone.pk}"] == "Former member"
    assert names[f"user:{nameless.pk}"] == f"Member #{nameless.pk}"
    assert names["user:999999"] == "Former member"
    assert names["system"] == SYSTEM_NAME == "OpenRefusal (system)"


def test_it_summarizes_payloads_on_one_line():
    assert payload_summary({}) == ""
    assert payload_summary({"role": "editor", "user": "user:3"}) == "role: editor · user: user:3"
    assert payload_summary({"ids": [1, 2]}) == "ids: [1,2]"
    long = payload_summary({"text": "x" * 500})
    assert len(long) == 90
    assert long.endswith("…")


@pytest.mark.django_db
def test_it_refuses_both_cursors_at_once():
    with pytest.raises(ValueError, match="not both"):
        ledger_page(before=5, after=1)


# --- The /ledger/ page --------------------------------------------------------------------------


def seed_varied(company, citizen):
    """A few entries by different actors, about different subjects."""
    gone = UserFactory(display_name="Departed Person", email="gone@example.org")
    gone.deleted_at = timezone.now()
    gone.save()
    with transaction.atomic():
        ledger_append(
            actor="system",
            action="organization.verified",
            subject=company,
            payload={"kind": "developer"},
        )
        ledger_append(
            actor=citizen,
            action="organization.member_added",
            subject=company,
            payload={"role": "editor", "user": "user:5"},
        )
        ledger_append(actor=gone, action="user.display_name_changed", subject=gone, payload={})
        ledger_append(actor="user:987654", action="api_token.created", subject="apitoken:4")


@pytest.mark.django_db
def test_it_shows_an_empty_state_to_anonymous_readers(client):
    response = client.get(reverse("ledger:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing has been recorded yet" in html
    assert reverse("ledger:export") in html
    assert reverse("ledger:verify-script") in html
    assert "How to check this record yourself" in html


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["citizen", "company_owner", "outsider", "staff"])
def test_it_shows_entries_newest_first_with_public_names(request, client_for, persona, company):
    citizen = request.getfixturevalue("citizen")
    seed_varied(company, citizen)
    user = request.getfixturevalue(persona)
    response = client_for(user).get(reverse("ledger:list"))
    assert response.status_code == 200
    html = response.content.decode()
    seqs = [int(s) for s in re.findall(r'href="/ledger/(\d+)/"', html)]
    assert seqs == [4, 3, 2, 1]
    assert "OpenRefusal (system)" in html
    assert "Citizen Ada" in html
    assert html.count(">Former member<") == 2  # the deleted account and the vanished one
    assert "Departed Person" not in html
    assert "citizen@example.org" not in html
    assert "role: editor · user: user:5" in html
    assert f"organization:{company.pk}" in html
    assert "<time datetime=" in html


@pytest.mark.django_db
def test_it_filters_by_subject_action_and_actor(client, company, citizen):
    seed_varied(company, citizen)
    url = reverse("ledger:list")

    def seqs(**params):
        html = client.get(url, params).content.decode()
        return [int(s) for s in re.findall(r'href="/ledger/(\d+)/"', html)]

    assert seqs(subject=f"organization:{company.pk}") == [2, 1]
    assert seqs(subject="organization") == []  # exact, not a prefix
    assert seqs(action="organization.verified") == [1]
    assert seqs(action=" organization.verified ") == [1]
    assert seqs(actor=f"user:{citizen.pk}") == [2]
    assert seqs(subject=f"organization:{company.pk}", action="organization.member_added") == [2]
    html = client.get(url, {"subject": "nothing:0"}).content.decode()
    assert "No entries match these filters" in html


@pytest.mark.django_db
def test_it_offers_the_actions_present_as_suggestions(client, company, citizen):
    seed_varied(company, citizen)
    html = client.get(reverse("ledger:list")).content.decode()
    datalist = re.search(r'<datalist id="ledger-actions">(.*?)</datalist>', html).group(1)
    assert re.findall(r'value="([^"]+)"', datalist) == [
        "api_token.created",
        "organization.member_added",
        "organization.verified",
        "user.display_name_changed",
    ]


@pytest.mark.django_db
def test_it_walks_every_page_without_duplicates_or_gaps(client):
    append(120, action="test.walk")
    url = reverse("ledger:list")
    seen: list[int] = []
    link = ""
    pages = 0
    while True:
        html = client.get(url + link).content.decode()
        seen += [int(s) for s in re.findall(r'href="/ledger/(\d+)/"', html)]
        pages += 1
        older = re.search(r'href="(\?[^"]*before=\d+[^"]*)"', html)
        if not older:
            break
        link = older.group(1).replace("&amp;", "&")
    assert pages == 3
    assert seen == list(range(120, 0, -1))

    # And back again through the "newer" links.
    back: list[int] = []
    while True:
        html = client.get(url + link).content.decode()
        back = [int(s) for s in re.findall(r'href="/ledger/(\d+)/"', html)] + back
        newer = re.search(r'href="(\?[^"]*after=\d+[^"]*)"', html)
        if not newer:
            break
        link = newer.group(1).replace("&amp;", "&")
    assert back == list(range(120, 0, -1))
    assert [int(s) for s in re.findall(r'href="/ledger/(\d+)/"', html)] == list(range(120, 70, -1))


@pytest.mark.django_db
def test_it_keeps_filters_while_paging(client):
    append(60, action="test.kept", subject="thing:1")
    append(60, action="test.other", subject="thing:2")
    html = client.get(reverse("ledger:list"), {"action": "test.kept"}).content.decode()
    older = re.search(r'href="(\?[^"]*before=\d+[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "action=test.kept" in older
    html = client.get(reverse("ledger:list") + older).content.decode()
    assert [int(s) for s in re.findall(r'href="/ledger/(\d+)/"', html)] == list(range(10, 0, -1))


@pytest.mark.django_db
def test_it_answers_htmx_with_the_results_region_only(client):
    append(3)
    response = client.get(
        reverse("ledger:list"), {"action": "test.happened"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="ledger-results"')
    assert "<html" not in html
    assert "How to check this record yourself" not in html
    assert len(re.findall(r'href="/ledger/(\d+)/"', html)) == 3


@pytest.mark.django_db
def test_it_answers_an_htmx_history_restore_with_the_whole_page(client):
    response = client.get(
        reverse("ledger:list"), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"before": "abc"}, "Enter a whole number"),
        ({"after": "-1"}, "greater than or equal to 0"),
        ({"before": "9" * 40}, "less than or equal to"),
        ({"after": "1.5"}, "Enter a whole number"),
        ({"before": "5", "after": "1"}, "not both"),
        ({"subject": "s" * 500}, "at most 120 characters"),
        ({"action": "a" * 500}, "at most 80 characters"),
        ({"subject": "a\x00b"}, "Null characters are not allowed"),
    ],
)
def test_it_explains_bad_input_inline_instead_of_failing(client, params, message):
    append(2)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(reverse("ledger:list"), params, **headers)
        assert response.status_code == 200
        html = response.content.decode()
        assert message in html
        assert not re.findall(r'href="/ledger/(\d+)/"', html)


@pytest.mark.django_db
def test_it_shows_an_empty_page_past_the_oldest_entry_with_a_way_back(client):
    append(3)
    html = client.get(reverse("ledger:list"), {"before": "1"}).content.decode()
    assert "No entries on this page" in html
    assert "?after=0" in html


@pytest.mark.django_db
def test_it_refuses_writes_on_the_page(client):
    assert client.post(reverse("ledger:list")).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_it_pins_the_query_count_of_the_page(
    client_for, django_assert_max_num_queries, citizen, signed_in
):
    # Passwordless accounts: hashing 10 passwords would dominate the test's time.
    authors = User.objects.bulk_create(
        User(email=f"author{i}@example.org", display_name=f"Author {i}") for i in range(10)
    )
    with transaction.atomic():
        for i in range(60):
            ledger_append(actor=authors[i % 10], action=f"test.a{i % 7}", subject=f"thing:{i}")
    c = client_for(citizen if signed_in else None)
    # entries, the users behind them, the actions list (+ session/user when signed in)
    with django_assert_max_num_queries(5 if signed_in else 3):
        response = c.get(reverse("ledger:list"))
    assert response.status_code == 200
    # Paging adds one query: whether anything lies on the other side of the cursor.
    with django_assert_max_num_queries(6 if signed_in else 4):
        response = c.get(reverse("ledger:list"), {"before": 30})
    assert response.status_code == 200


# --- One entry ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_an_entrys_canonical_document_and_hashes(client, citizen):
    first, second = append(2, actor=citizen, payload={"b": "é", "a": 1})
    response = client.get(reverse("ledger:detail", args=[2]))
    assert response.status_code == 200
    html = response.content.decode()
    document = entry_document(LedgerEntry.objects.get(seq=2))
    del document["hash"]
    canonical = canonical_json(document).decode()
    assert canonical.replace('"', "&quot;") in html
    assert second.hash in html
    assert first.hash in html
    assert reverse("ledger:detail", args=[1]) in html
    assert "Matches its contents" in html
    assert "Citizen Ada" in html

    html = client.get(reverse("ledger:detail", args=[1])).content.decode()
    assert "the genesis hash" in html


@pytest.mark.django_db
def test_it_flags_a_tampered_entry_on_its_page(client):
    append(2)
    tamper(f"UPDATE {TABLE} SET payload = %s WHERE seq = 2", ['{"i": 7}'])  # noqa: S608
    html = client.get(reverse("ledger:detail", args=[2])).content.decode()
    assert "Does not match its contents" in html


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/ledger/5/", "/ledger/0/", "/ledger/99999999999999999999999/"])
def test_it_answers_404_for_entries_that_do_not_exist(client, path):
    append(1)
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_it_answers_404_for_non_numeric_entries(client):
    assert client.get("/ledger/abc/").status_code == 404


# --- Export and the script download -------------------------------------------------------------


@pytest.mark.django_db
def test_it_streams_the_export_one_canonical_entry_per_line(client):
    entries = append(5, payload={"z": 1, "a": "ü"})
    response = client.get(reverse("ledger:export"))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == 'attachment; filename="openrefusal-ledger.jsonl"'
    body = b"".join(response.streaming_content)
    lines = body.decode().splitlines()
    assert len(lines) == 5
    assert body.endswith(b"\n")
    for line, entry in zip(lines, entries, strict=True):
        document = json.loads(line)
        assert canonical_json(document) == line.encode()
        assert document["hash"] == entry.hash
        assert list(document) == sorted(document)


@pytest.mark.django_db
def test_it_resumes_the_export_after_a_seq(client):
    append(5)
    response = client.get(reverse("ledger:export"), {"after": 3})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [4, 5]
    assert "after-3" in response["Content-Disposition"]


@pytest.mark.django_db
def test_it_streams_a_large_export_in_blocks(client):
    with transaction.atomic():
        for i in range(400):
            ledger_append(
                actor="system", action="test.bulk", subject=f"thing:{i}", payload={"t": "x" * 300}
            )
    response = client.get(reverse("ledger:export"))
    blocks = list(response.streaming_content)
    assert len(blocks) > 1
    assert len(b"".join(blocks).splitlines()) == 400


@pytest.mark.django_db
@pytest.mark.parametrize("after", ["abc", "-1", "9" * 30, "1.5"])
def test_it_refuses_a_bad_export_start_with_400(client, after):
    response = client.get(reverse("ledger:export"), {"after": after})
    assert response.status_code == 400
    assert "after:" in response.content.decode()


@pytest.mark.django_db
def test_it_refuses_writes_on_the_export(client):
    assert client.post(reverse("ledger:export")).status_code == 405


def test_it_serves_the_verification_script(client):
    response = client.get(reverse("ledger:verify-script"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == SCRIPT.read_bytes()


@pytest.mark.django_db(transaction=True)
def test_it_streams_and_verifies_through_server_side_cursors_in_autocommit(client, monkeypatch):
    """Outside a transaction (as in production), the cursors are held open across chunks
    while the response streams."""
    from governance.selectors import ledger as selectors

    monkeypatch.setattr(selectors, "CHUNK_SIZE", 7)
    monkeypatch.setattr(selectors, "EXPORT_BLOCK_BYTES", 1)
    entries = append(30)
    assert not connection.in_atomic_block
    response = client.get(reverse("ledger:export"))
    blocks = list(response.streaming_content)
    assert len(blocks) == 30
    assert [json.loads(b)["seq"] for b in blocks] == list(range(1, 31))
    result = ledger_verify()
    assert (result.ok, result.count, result.head) == (True, 30, entries[-1].hash)
    assert run_command() == (0, str(result))
