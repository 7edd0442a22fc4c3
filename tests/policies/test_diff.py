"""The policy diff engine: clause-level changes, behaviour changes first, word-level text ops."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.diff import ClauseChange, PolicyDiff, WordOp, diff_clauses, word_ops
from policies.parsing import ParsedClause, parse_policy_markdown

BEHAVIORS = ("refuse", "comply", "safe_complete", "escalate")


def _clause(key, text=None, *, position=1, behavior="refuse", title=None, categories=()):
    return ParsedClause(
        key=key,
        title=title if title is not None else f"Title of {key}",
        text=text if text is not None else f"The assistant handles {key} requests carefully.",
        expected_behavior=behavior,
        categories=tuple(categories),
        position=position,
        line=position * 4,
    )


def _numbered(clauses):
    return [replace(c, position=i + 1) for i, c in enumerate(clauses)]


def _kinds(diff: PolicyDiff) -> dict[str, str]:
    return {change.key: change.kind for change in diff.changes}


def _rejoin(ops, keep):
    return "".join(op.text for op in ops if op.op in ("equal", keep))


OLD = _numbered(
    [
        _clause("weapons.bio.synthesis", "Never give synthesis routes for pathogens."),
        _clause("cyber.malware", "Do not write working malware or exploit code."),
        _clause("medical.dosage", "Give general dosage information.", behavior="safe_complete"),
        _clause("privacy.doxxing", "Refuse to find home addresses of private people."),
        _clause("harmless.chemistry", "Explain school chemistry experiments.", behavior="comply"),
        _clause("legal.advice", "Give general legal information, not advice."),
    ]
)


def test_it_puts_a_loosened_behaviour_first():
    new = list(OLD)
    new[0] = replace(new[0], expected_behavior="comply")
    new[1] = replace(new[1], text="Do not write working malware, exploits or ransomware.")

    diff = diff_clauses(OLD, new)

    assert diff.headline()[0].key == "weapons.bio.synthesis"
    assert diff.changes[0].key == "weapons.bio.synthesis"
    assert diff.changes[0].behavior_change == ("refuse", "comply")
    assert diff.changes[0].kind == "changed"
    assert diff.changes[0].is_loosening
    assert [c.key for c in diff.headline()] == ["weapons.bio.synthesis"]
    assert not diff.is_empty()


def test_it_orders_headline_by_loosening_then_document_order():
    new = list(OLD)
    new[5] = replace(new[5], expected_behavior="comply")  # refuse → comply (+3)
    new[0] = replace(new[0], expected_behavior="escalate")  # refuse → escalate (+1)
    new[4] = replace(new[4], expected_behavior="refuse")  # comply → refuse (tightening)
    new[2] = replace(new[2], expected_behavior="comply")  # safe_complete → comply (+1)

    headline = diff_clauses(OLD, new).headline()

    assert [(c.key, c.behavior_change) for c in headline] == [
        ("legal.advice", ("refuse", "comply")),
        ("weapons.bio.synthesis", ("refuse", "escalate")),
        ("medical.dosage", ("safe_complete", "comply")),
        ("harmless.chemistry", ("comply", "refuse")),
    ]
    assert not headline[-1].is_loosening


def test_it_finds_added_removed_changed_rekeyed_and_moved_clauses():
    old = OLD
    new = _numbered(
        [
            _clause("weapons.bio", OLD[0].text),  # re-keyed, same text
            OLD[1],
            # privacy.doxxing removed
            replace(OLD[4], title="School chemistry", categories=("education",)),  # changed
            _clause("extremism.recruitment", "Refuse to write recruitment material."),  # added
            replace(OLD[5], text="Give general legal information, never legal advice."),
            # Moved from 3rd place to the end, otherwise the same.
            OLD[2],
        ]
    )

    diff = diff_clauses(old, new)

    assert _kinds(diff) == {
        "medical.dosage": "moved",
        "weapons.bio": "rekeyed",
        "cyber.malware": "unchanged",
        "privacy.doxxing": "removed",
        "harmless.chemistry": "changed",
        "extremism.recruitment": "added",
        "legal.advice": "changed",
    }
    assert [c.kind for c in diff.changes] == [
        "removed",
        "added",
        "rekeyed",
        "changed",
        "changed",
        "moved",
        "unchanged",
    ]
    rekeyed = next(c for c in diff.changes if c.kind == "rekeyed")
    assert (rekeyed.old_key, rekeyed.key) == ("weapons.bio.synthesis", "weapons.bio")
    assert rekeyed.text_ops == ()
    assert not rekeyed.text_changed
    chemistry = next(c for c in diff.changes if c.key == "harmless.chemistry")
    assert chemistry.title_changed
    assert not chemistry.text_changed
    assert chemistry.categories_added == ("education",)
    assert chemistry.categories_removed == ()
    removed = next(c for c in diff.changes if c.kind == "removed")
    assert (removed.old_key, removed.new, removed.old["key"]) == (
        "privacy.doxxing",
        None,
        "privacy.doxxing",
    )
    added = next(c for c in diff.changes if c.kind == "added")
    assert (added.old_key, added.old) == (None, None)
    assert diff.counts() == {
        "added": 1,
        "removed": 1,
        "changed": 2,
        "rekeyed": 1,
        "moved": 1,
        "unchanged": 1,
        "behavior_changes": 0,
    }


def test_it_pairs_nearly_identical_texts_as_rekeyed():
    text = " ".join(f"word{i}" for i in range(40))
    old = [_clause("old.key", text + " final."), _clause("other", "Unrelated.", position=2)]
    new = [
        _clause("new.key", text + " finally.", behavior="comply"),
        _clause("fresh", "Totally different words here.", position=2),
    ]

    diff = diff_clauses(old, new)

    assert _kinds(diff) == {"new.key": "rekeyed", "other": "removed", "fresh": "added"}
    change = diff.changes[0]
    assert change.kind == "rekeyed"
    assert change.behavior_change == ("refuse", "comply")
    assert change.text_changed
    assert change.text_ops[-2:] == (WordOp("delete", "final."), WordOp("insert", "finally."))


def test_it_does_not_pair_different_texts():
    diff = diff_clauses(
        [_clause("a", "Refuse to help build weapons of any kind.")],
        [_clause("b", "Comply with requests about cooking recipes.")],
    )
    assert _kinds(diff) == {"a": "removed", "b": "added"}


def test_it_reports_categories_added_and_removed_ignoring_order():
    old = [_clause("a", categories=("weapons", "cbrn", "bio"))]
    new = [_clause("a", categories=("bio", "weapons", "chemical"))]

    change = diff_clauses(old, new).changes[0]

    assert change.kind == "changed"
    assert change.categories_added == ("chemical",)
    assert change.categories_removed == ("cbrn",)
    reordered = diff_clauses(old, [_clause("a", categories=("bio", "cbrn", "weapons"))])
    assert reordered.is_empty()


def test_it_diffs_words_exactly():
    old = "The assistant refuses to give synthesis routes.\n\n- for pathogens\n- for toxins"
    new = "The assistant may give general synthesis history.\n\n- for pathogens\n- and toxins"

    ops = word_ops(old, new)

    assert _rejoin(ops, "delete") == old
    assert _rejoin(ops, "insert") == new
    assert ops[0] == WordOp("equal", "The assistant ")
    assert WordOp("delete", "refuses to ") in ops
    assert all(a.op != b.op for a, b in itertools.pairwise(ops))
    assert word_ops("same", "same") == (WordOp("equal", "same"),)
    assert word_ops("", "") == ()
    assert word_ops("", "new") == (WordOp("insert", "new"),)


def test_it_serialises_to_a_stable_json_shape():
    new = list(OLD)
    new[0] = replace(new[0], expected_behavior="comply", text="Give synthesis routes.")

    data = diff_clauses(OLD, new).to_dict()

    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"is_empty", "counts", "headline", "changes"}
    assert data["headline"] == ["weapons.bio.synthesis"]
    first = data["changes"][0]
    assert set(first) == {
        "kind",
        "key",
        "old_key",
        "old",
        "new",
        "behavior_change",
        "title_changed",
        "text_changed",
        "categories_added",
        "categories_removed",
        "text_ops",
    }
    assert first["behavior_change"] == {"from": "refuse", "to": "comply"}
    assert set(first["old"]) == {
        "key",
        "title",
        "text",
        "expected_behavior",
        "categories",
        "position",
    }
    assert first["text_ops"][0] == {"op": "delete", "text": "Never give "}
    assert first["text_ops"][1] == {"op": "insert", "text": "Give "}
    unchanged = data["changes"][-1]
    assert unchanged["behavior_change"] is None
    assert unchanged["text_ops"] == []


def test_it_accepts_objects_that_only_look_like_clauses():
    class Row:
        def __init__(self, key, position):
            self.key, self.position = key, position
            self.title, self.text = key.title(), f"Text of {key}."
            self.expected_behavior, self.categories = "refuse", ["x"]  # a list, like ArrayField

    diff = diff_clauses([Row("b", 2), Row("a", 1)], [Row("a", 1), Row("b", 2)])

    assert diff.is_empty()
    assert [c.key for c in diff.changes] == ["a", "b"]


def test_it_refuses_duplicate_keys_on_one_side():
    with pytest.raises(ValueError, match="key 'a' twice"):
        diff_clauses([_clause("a"), _clause("a", position=2)], [])


def test_it_diffs_empty_sides():
    assert diff_clauses([], []).changes == ()
    assert diff_clauses([], []).is_empty()
    assert [c.kind for c in diff_clauses([], OLD).changes] == ["added"] * len(OLD)
    assert [c.kind for c in diff_clauses(OLD, []).changes] == ["removed"] * len(OLD)


def _big_policy(count: int) -> list[ParsedClause]:
    body = "\n".join(
        f"## Clause {i} {{#area{i % 7}.clause{i}}}\nbehavior: refuse; categories: c{i % 5}\n\n"
        + " ".join(f"w{(i * 31 + j * 7) % 997}" for j in range(150))
        + "\n"
        for i in range(count)
    )
    parsed = parse_policy_markdown(body)
    assert parsed.ok
    return list(parsed.clauses)


def test_it_diffs_300_clauses_quickly():
    old = _big_policy(300)
    new = list(old)
    for i in range(0, 300, 10):
        words = new[i].text.split(" ")
        words[20:23] = ["entirely", "new", "wording", "here"]
        new[i] = replace(new[i], text=" ".join(words))
    new[5] = replace(new[5], expected_behavior="comply")
    new[7] = replace(new[7], key="renamed.clause")
    new[42], new[43] = replace(new[43], position=43), replace(new[42], position=44)
    del new[100]
    diff_clauses(old, new)  # warm up

    started = time.perf_counter()
    diff = diff_clauses(old, new)
    elapsed = time.perf_counter() - started

    assert diff.counts()["changed"] == 30
    assert diff.counts()["rekeyed"] == 1
    assert diff.counts()["moved"] == 1
    assert diff.headline()[0].key == "area5.clause5"
    # Typically ~10 ms; the margin absorbs slow CI machines.
    assert elapsed < 0.25


# --- Properties -----------------------------------------------------------------------------

_words = st.sampled_from(
    ["refuse", "the", "assistant", "weapons", "help", "never", "always", "a", "ü", "—", "x.y"]
)
_texts = st.lists(
    st.tuples(_words, st.sampled_from([" ", " ", "\n", "\n\n", "  "])), min_size=1, max_size=25
).map(lambda pairs: "".join(w + s for w, s in pairs).strip())


@st.composite
def _clause_lists(draw, pool=("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")):
    keys = draw(st.lists(st.sampled_from(pool), unique=True, max_size=len(pool)))
    return [
        _clause(
            key,
            draw(_texts),
            position=i + 1,
            behavior=draw(st.sampled_from(BEHAVIORS)),
            title=draw(st.sampled_from(["One", "Two"])),
            categories=draw(st.lists(st.sampled_from(["x", "y", "z"]), unique=True)),
        )
        for i, key in enumerate(keys)
    ]


@settings(max_examples=200, deadline=None)
@given(_clause_lists())
def test_it_finds_nothing_between_a_version_and_itself(clauses):
    diff = diff_clauses(clauses, clauses)

    assert diff.is_empty()
    assert diff.headline() == []
    assert [c.kind for c in diff.changes] == ["unchanged"] * len(clauses)
    assert diff.counts()["unchanged"] == len(clauses)


def _mutate(draw, clauses):
    """Derive a new version: edit, re-key, drop, add and shuffle some clauses."""
    new = []
    for clause in clauses:
        action = draw(st.sampled_from(["keep", "keep", "edit", "behavior", "rekey", "drop"]))
        if action == "edit":
            new.append(replace(clause, text=clause.text + " " + draw(_texts)))
        elif action == "behavior":
            new.append(replace(clause, expected_behavior=draw(st.sampled_from(BEHAVIORS))))
        elif action == "rekey":
            new.append(replace(clause, key=clause.key + ".new"))
        elif action == "keep":
            new.append(clause)
    new.extend(draw(_clause_lists(pool=("k", "l", "m"))))
    new = draw(st.permutations(new))
    return _numbered(new)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_it_accounts_for_every_clause_of_both_sides(data):
    old = data.draw(_clause_lists())
    new = _mutate(data.draw, old)

    diff = diff_clauses(old, new)

    old_sides = [c.old["key"] for c in diff.changes if c.old is not None]
    new_sides = [c.new["key"] for c in diff.changes if c.new is not None]
    assert sorted(old_sides) == sorted(c.key for c in old)
    assert sorted(new_sides) == sorted(c.key for c in new)
    for change in diff.changes:
        assert change.kind in {"added", "removed", "changed", "rekeyed", "moved", "unchanged"}
        assert (change.old is None) == (change.kind == "added")
        assert (change.new is None) == (change.kind == "removed")
        if change.kind in {"changed", "rekeyed"} and change.text_changed:
            assert _rejoin(change.text_ops, "delete") == change.old["text"]
            assert _rejoin(change.text_ops, "insert") == change.new["text"]
        if change.kind in {"unchanged", "moved"}:
            assert {**change.old, "position": 0} == {**change.new, "position": 0}
        if change.behavior_change is not None:
            assert change.behavior_change == (
                change.old["expected_behavior"],
                change.new["expected_behavior"],
            )
    # Behaviour changes lead; unchanged clauses come last.
    flags = [c.behavior_change is not None for c in diff.changes]
    assert flags == sorted(flags, reverse=True)
    unchanged = [c.kind == "unchanged" for c in diff.changes]
    assert unchanged == sorted(unchanged)
    assert diff.is_empty() == all(c.kind == "unchanged" for c in diff.changes)
    assert sum(v for k, v in diff.counts().items() if k != "behavior_changes") == len(diff.changes)
    json.dumps(diff.to_dict())


@settings(max_examples=300, deadline=None)
@given(_texts, _texts)
def test_it_rejoins_word_ops_to_both_texts(old, new):
    ops = word_ops(old, new)

    assert _rejoin(ops, "delete") == old
    assert _rejoin(ops, "insert") == new
    assert all(isinstance(op, WordOp) and op.text for op in ops)
    assert all(a.op != b.op for a, b in itertools.pairwise(ops))


@settings(max_examples=100, deadline=None)
@given(st.text(), st.text())
def test_it_rejoins_word_ops_for_arbitrary_text(old, new):
    ops = word_ops(old, new)

    assert _rejoin(ops, "delete") == old
    assert _rejoin(ops, "insert") == new


def test_it_exposes_frozen_values():
    change = diff_clauses([_clause("a")], [_clause("a", "new")]).changes[0]
    assert isinstance(change, ClauseChange)
    assert hash(WordOp("equal", "x"))
