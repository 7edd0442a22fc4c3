"""Compare two lists of clauses: clause-level changes, behaviour changes first, word-level text ops.

Works on anything clause-shaped (a `Clause` row or a `ParsedClause`), so drafts diff like versions.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Protocol

# A removed and an added clause whose texts are at least this similar are one re-keyed clause.
REKEY_RATIO = 0.9
# Upper bound on similarity computations when pairing re-keyed clauses, so that a pathological
# diff (hundreds of near-identical clauses all re-keyed) stays fast.
MAX_REKEY_COMPARISONS = 1_000
SKETCH_SIZE = 12

KINDS = ("added", "removed", "changed", "rekeyed", "moved", "unchanged")
# How much a behaviour lets through, least to most: loosening towards `comply` leads the headline.
PERMISSIVENESS = {"refuse": 0, "escalate": 1, "safe_complete": 2, "comply": 3}
# Order of the non-headline groups in `PolicyDiff.changes`.
_GROUP_ORDER = {"removed": 1, "added": 2, "rekeyed": 3, "changed": 4, "moved": 5, "unchanged": 6}

# Each token is a word with the whitespace that follows it (plus any leading whitespace as its
# own token), so joining the tokens gives back the text exactly.
_TOKEN_RE = re.compile(r"^\s+|\S+\s*")


class _Tokens(dict[str, tuple[str, ...]]):
    """Per-diff cache: pairing re-keyed clauses and the word diff tokenise the same texts."""

    def __missing__(self, text: str) -> tuple[str, ...]:
        tokens = self[text] = tuple(_TOKEN_RE.findall(text))
        return tokens


class ClauseLike(Protocol):
    key: str
    title: str
    text: str
    expected_behavior: str
    categories: Sequence[str]
    position: int


@dataclass(frozen=True)
class WordOp:
    op: str  # "equal" | "insert" | "delete"
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"op": self.op, "text": self.text}


@dataclass(frozen=True)
class ClauseChange:
    kind: str  # one of KINDS
    key: str  # the new key (the old key for "removed")
    old_key: str | None
    old: dict | None  # {"key","title","text","expected_behavior","categories","position"}
    new: dict | None
    behavior_change: tuple[str, str] | None  # e.g. ("refuse", "comply")
    title_changed: bool = False
    text_changed: bool = False
    categories_added: tuple[str, ...] = ()
    categories_removed: tuple[str, ...] = ()
    text_ops: tuple[WordOp, ...] = field(default=())

    @property
    def is_loosening(self) -> bool:
        """True when the behaviour moved towards letting more through (e.g. refuse → comply)."""
        if self.behavior_change is None:
            return False
        old, new = self.behavior_change
        return PERMISSIVENESS.get(new, 0) > PERMISSIVENESS.get(old, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "old_key": self.old_key,
            "old": self.old,
            "new": self.new,
            "behavior_change": (
                None
                if self.behavior_change is None
                else {"from": self.behavior_change[0], "to": self.behavior_change[1]}
            ),
            "title_changed": self.title_changed,
            "text_changed": self.text_changed,
            "categories_added": list(self.categories_added),
            "categories_removed": list(self.categories_removed),
            "text_ops": [op.to_dict() for op in self.text_ops],
        }


@dataclass(frozen=True)
class PolicyDiff:
    # Behaviour changes first (loosening before tightening), then removed, added, rekeyed,
    # changed, moved; unchanged last. Within a group, in document order.
    changes: tuple[ClauseChange, ...]

    def headline(self) -> list[ClauseChange]:
        """The behaviour changes, most loosening first."""
        return [change for change in self.changes if change.behavior_change is not None]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for change in self.changes:
            counts[change.kind] += 1
        counts["behavior_changes"] = sum(1 for c in self.changes if c.behavior_change)
        return counts

    def is_empty(self) -> bool:
        return all(change.kind == "unchanged" for change in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "is_empty": self.is_empty(),
            "counts": self.counts(),
            "headline": [change.key for change in self.headline()],
            "changes": [change.to_dict() for change in self.changes],
        }


def word_ops(old: str, new: str, *, cache: _Tokens | None = None) -> tuple[WordOp, ...]:
    """Word-level diff: the equal+delete ops re-join to `old`, equal+insert ops to `new`."""
    if old == new:
        return (WordOp("equal", old),) if old else ()
    tokens = _Tokens() if cache is None else cache
    old_tokens = tokens[old]
    new_tokens = tokens[new]
    ops: list[WordOp] = []

    def emit(op: str, tokens: Sequence[str]) -> None:
        if not tokens:
            return
        text = "".join(tokens)
        if ops and ops[-1].op == op:
            ops[-1] = WordOp(op, ops[-1].text + text)
        else:
            ops.append(WordOp(op, text))

    # Small edits to long clauses are the common case: match the shared head and tail directly
    # and leave only the middle to SequenceMatcher, which is quadratic in the worst case.
    head = 0
    limit = min(len(old_tokens), len(new_tokens))
    while head < limit and old_tokens[head] == new_tokens[head]:
        head += 1
    tail = 0
    while tail < limit - head and old_tokens[-1 - tail] == new_tokens[-1 - tail]:
        tail += 1
    old_middle = old_tokens[head : len(old_tokens) - tail]
    new_middle = new_tokens[head : len(new_tokens) - tail]

    emit("equal", old_tokens[:head])
    matcher = SequenceMatcher(None, old_middle, new_middle, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            emit("equal", old_middle[i1:i2])
        else:
            # "replace" reads best as the old words struck out, then the new ones.
            emit("delete", old_middle[i1:i2])
            emit("insert", new_middle[j1:j2])
    emit("equal", old_tokens[len(old_tokens) - tail :])
    return tuple(ops)


def _snapshot(clause: ClauseLike) -> dict[str, Any]:
    return {
        "key": clause.key,
        "title": clause.title,
        "text": clause.text,
        "expected_behavior": clause.expected_behavior,
        "categories": list(clause.categories),
        "position": clause.position,
    }


def _ordered(clauses: Sequence[ClauseLike], side: str) -> list[dict[str, Any]]:
    snapshots = sorted((_snapshot(c) for c in clauses), key=lambda s: s["position"])
    seen: set[str] = set()
    for snapshot in snapshots:
        if snapshot["key"] in seen:
            raise ValueError(f"The {side} clauses contain the key {snapshot['key']!r} twice.")
        seen.add(snapshot["key"])
    return snapshots


def _compare(kind: str, old: dict[str, Any], new: dict[str, Any], tokens: _Tokens) -> ClauseChange:
    old_categories, new_categories = old["categories"], new["categories"]
    added = tuple(c for c in new_categories if c not in old_categories)
    removed = tuple(c for c in old_categories if c not in new_categories)
    title_changed = old["title"] != new["title"]
    text_changed = old["text"] != new["text"]
    behavior_change = (
        (old["expected_behavior"], new["expected_behavior"])
        if old["expected_behavior"] != new["expected_behavior"]
        else None
    )
    content_changed = bool(title_changed or text_changed or behavior_change or added or removed)
    if kind == "same":
        kind = "changed" if content_changed else "unchanged"
    return ClauseChange(
        kind=kind,
        key=new["key"],
        old_key=old["key"],
        old=old,
        new=new,
        behavior_change=behavior_change,
        title_changed=title_changed,
        text_changed=text_changed,
        categories_added=added,
        categories_removed=removed,
        text_ops=word_ops(old["text"], new["text"], cache=tokens) if text_changed else (),
    )


def _longest_increasing(indices: list[int]) -> set[int]:
    """Values of one longest strictly increasing subsequence of `indices` (patience sorting)."""
    tails: list[int] = []  # tails[k]: smallest tail value of an increasing run of length k+1
    tail_at: list[int] = []  # position in `indices` of that tail
    parent: list[int] = [-1] * len(indices)
    for i, value in enumerate(indices):
        k = bisect.bisect_left(tails, value)
        if k == len(tails):
            tails.append(value)
            tail_at.append(i)
        else:
            tails[k] = value
            tail_at[k] = i
        parent[i] = tail_at[k - 1] if k else -1
    kept: set[int] = set()
    i = tail_at[-1] if tail_at else -1
    while i != -1:
        kept.add(indices[i])
        i = parent[i]
    return kept


def similarity(a: Sequence[str], b: Sequence[str], floor: float = REKEY_RATIO) -> float:
    """difflib's ratio (2 * matches / total) of two token lists; 0.0 early when below `floor`.

    The shared head and tail are matched directly, so small edits to long texts are cheap.
    """
    total = len(a) + len(b)
    if not total:
        return 1.0
    if 2 * min(len(a), len(b)) < floor * total:
        return 0.0
    head = 0
    limit = min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a_middle, b_middle = a[head : len(a) - tail], b[head : len(b) - tail]
    matches = head + tail
    if a_middle and b_middle:
        matcher = SequenceMatcher(None, a_middle, b_middle, autojunk=False)
        # quick_ratio is an upper bound of ratio: skip the expensive part when it cannot reach.
        if 2 * (matches + matcher.quick_ratio() * (len(a_middle) + len(b_middle)) / 2) < (
            floor * total
        ):
            return 0.0
        matches += sum(block.size for block in matcher.get_matching_blocks())
    return 2 * matches / total


def _sketch(text: str) -> list[int]:
    """A MinHash-style sketch: the smallest hashes of the text's distinct words.

    Texts that are nearly identical share most of their sketch; unrelated texts share few.
    """
    words = set(text.encode("utf-8", "surrogatepass").split())
    # crc32, not hash(): str hashes change between processes and results must be reproducible.
    return sorted(set(map(zlib.crc32, words)))[:SKETCH_SIZE]


def _pair_rekeyed(
    removed: list[dict[str, Any]], added: list[dict[str, Any]], tokens: _Tokens
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pair removed and added clauses whose texts are identical or nearly so (best first)."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    if not removed or not added:
        return pairs
    by_text: dict[str, list[dict[str, Any]]] = {}
    for new in added:
        by_text.setdefault(new["text"], []).append(new)
    used_new: set[str] = set()
    left: list[dict[str, Any]] = []
    for old in removed:
        candidates = by_text.get(old["text"])
        if candidates:
            new = candidates.pop(0)
            used_new.add(new["key"])
            pairs.append((old, new))
        else:
            left.append(old)
    right = [new for new in added if new["key"] not in used_new]
    if not left or not right:
        return pairs

    # Comparing every pair is quadratic; only pairs whose sketches overlap enough (and whose
    # lengths are close) are compared in full.
    right_sketches = [_sketch(new["text"]) for new in right]
    index: dict[int, list[int]] = {}
    for j, sketch in enumerate(right_sketches):
        for value in sketch:
            index.setdefault(value, []).append(j)
    scored: list[tuple[float, int, int]] = []
    compared = 0
    for i, old in enumerate(left):
        if compared >= MAX_REKEY_COMPARISONS:
            break
        sketch = _sketch(old["text"])
        shared = Counter(j for value in sketch for j in index.get(value, ()))
        candidates = sorted(
            j
            for j, count in shared.items()
            # Near-identical texts share most of their sketch; common words alone share a few.
            if count * 5 >= min(len(sketch), len(right_sketches[j])) * 2
        )
        if not candidates:
            continue
        old_tokens = tokens[old["text"]]
        for j in candidates:
            if compared >= MAX_REKEY_COMPARISONS:
                break
            compared += 1
            ratio = similarity(old_tokens, tokens[right[j]["text"]])
            if ratio >= REKEY_RATIO:
                scored.append((ratio, i, j))
    # Best match first; ties go to document order so results are deterministic.
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    taken_left: set[int] = set()
    taken_right: set[int] = set()
    for _ratio, i, j in scored:
        if i in taken_left or j in taken_right:
            continue
        taken_left.add(i)
        taken_right.add(j)
        pairs.append((left[i], right[j]))
    return pairs


def diff_clauses(old: Sequence[ClauseLike], new: Sequence[ClauseLike]) -> PolicyDiff:
    """Diff two versions' clauses. Every old clause and every new clause appears exactly once."""
    old_list = _ordered(old, "old")
    new_list = _ordered(new, "new")
    old_by_key = {c["key"]: c for c in old_list}
    new_index = {c["key"]: i for i, c in enumerate(new_list)}

    shared_in_old_order = [c["key"] for c in old_list if c["key"] in new_index]
    in_order = _longest_increasing([new_index[key] for key in shared_in_old_order])

    tokens = _Tokens()
    changes: list[ClauseChange] = []
    for key in shared_in_old_order:
        change = _compare("same", old_by_key[key], new_list[new_index[key]], tokens)
        if change.kind == "unchanged" and new_index[key] not in in_order:
            change = ClauseChange(
                kind="moved",
                key=key,
                old_key=key,
                old=change.old,
                new=change.new,
                behavior_change=None,
            )
        changes.append(change)

    removed = [c for c in old_list if c["key"] not in new_index]
    added = [c for c in new_list if c["key"] not in old_by_key]
    paired_old: set[str] = set()
    paired_new: set[str] = set()
    for old_clause, new_clause in _pair_rekeyed(removed, added, tokens):
        paired_old.add(old_clause["key"])
        paired_new.add(new_clause["key"])
        changes.append(_compare("rekeyed", old_clause, new_clause, tokens))
    for clause in removed:
        if clause["key"] not in paired_old:
            changes.append(
                ClauseChange(
                    kind="removed",
                    key=clause["key"],
                    old_key=clause["key"],
                    old=clause,
                    new=None,
                    behavior_change=None,
                )
            )
    for clause in added:
        if clause["key"] not in paired_new:
            changes.append(
                ClauseChange(
                    kind="added",
                    key=clause["key"],
                    old_key=None,
                    old=None,
                    new=clause,
                    behavior_change=None,
                )
            )
    changes.sort(key=_sort_key)
    return PolicyDiff(changes=tuple(changes))


def _sort_key(change: ClauseChange) -> tuple[int, int, int]:
    side = change.new if change.new is not None else change.old
    position = side["position"] if side is not None else 0
    if change.behavior_change is not None:
        old, new = change.behavior_change
        loosening = PERMISSIVENESS.get(new, 0) - PERMISSIVENESS.get(old, 0)
        return (0, -loosening, position)
    return (_GROUP_ORDER[change.kind], 0, position)
