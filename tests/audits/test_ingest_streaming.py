"""Parsing streams in bounded memory whatever the file size: the peak traced allocation stays
small while files far larger than it are read, sample by sample."""

from __future__ import annotations

import json
import tracemalloc

from audits.ingest import Limits, open_evidence
from audits.ingest._io import SeenIds
from audits.ingest.types import MiB
from tests.audits.helpers import fixture, write_zip


def peak_while_consuming(path, **kwargs) -> tuple[int, int]:
    """(samples read, peak traced bytes) — samples are dropped as they come, as a bulk
    inserter that writes them in batches would."""
    evidence = open_evidence(path, **kwargs)
    count = 0
    tracemalloc.start()
    try:
        for _ in evidence.samples():
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_it_streams_a_200_mb_generic_jsonl_in_bounded_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    response = "I can't help with that. " * 18
    with open(path, "w", encoding="utf-8") as f:
        i = 0
        while f.tell() < 200 * MiB:
            for _ in range(1000):
                f.write(
                    json.dumps(
                        {
                            "sample_id": f"s-{i}",
                            "category": f"cat-{i % 40}",
                            "prompt": f"Prompt number {i}: how would one do the thing? " * 3,
                            "response": response,
                            "label": "refusal" if i % 3 else "compliance",
                            "should_refuse": bool(i % 2),
                        }
                    )
                    + "\n"
                )
                i += 1
    size = path.stat().st_size

    count, peak = peak_while_consuming(path)

    assert size >= 200 * MiB
    assert count == i
    # ~400,000 samples; the seen-id table (16 bytes an id) is the only thing that grows.
    assert peak < 24 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_it_streams_a_json_log_without_building_its_events(tmp_path):
    template = json.loads(fixture("inspect_xstest.json").read_text())
    sample = template["samples"][0]
    sample["events"] = [{"event": "model", "payload": "x" * 1000} for _ in range(300)]
    path = tmp_path / "big.json"
    with open(path, "w") as f:
        head = {k: v for k, v in template.items() if k not in ("samples", "reductions")}
        f.write(json.dumps(head)[:-1] + ', "samples": [')
        for i in range(150):
            sample["id"] = i
            f.write(("," if i else "") + json.dumps(sample))
        f.write("]}")

    count, peak = peak_while_consuming(path)

    assert path.stat().st_size > 40 * MiB
    assert count == 150
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_it_streams_a_promptfoo_file(tmp_path):
    data = json.loads(fixture("promptfoo_refusal_fixture.json").read_text())
    result = data["results"]["results"][0]
    result["response"]["output"] = "You can use kill <PID>. " * 200
    path = tmp_path / "big.json"
    with open(path, "w") as f:
        f.write('{"evalId": "e", "results": {"version": 3, "results": [')
        for i in range(8000):
            result["testIdx"] = i
            f.write(("," if i else "") + json.dumps(result))
        f.write(']}, "config": {}, "metadata": {"promptfooVersion": "0.123.1"}}')

    count, peak = peak_while_consuming(path)

    assert path.stat().st_size > 40 * MiB
    assert count == 8000
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_it_streams_an_eval_archive_member_by_member(tmp_path):
    from audits.ingest._zip import ZipReader

    source = fixture("inspect_xstest.eval")
    with ZipReader(source, source.stat().st_size, Limits()) as z:
        members = {m.name: z.read_member(m) for m in z.members()}
    sample = json.loads(members["samples/1_epoch_1.json"])
    sample["events"] = [{"event": "model", "payload": f"{n} " + "y" * 2000} for n in range(200)]
    archive = [{"name": "header.json", "data": members["header.json"]}]
    for i in range(300):
        sample["id"] = i
        archive.append({"name": f"samples/{i}_epoch_1.json", "data": json.dumps(sample).encode()})
    path = write_zip(tmp_path / "big.eval", archive)

    count, peak = peak_while_consuming(path)

    assert count == 300
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


def test_the_seen_id_set_finds_duplicates_among_many_ids():
    seen = SeenIds()

    assert all(seen.add(f"id-{i}") for i in range(100_000))
    assert not seen.add("id-4242")
    assert seen.add("id-100000")
    assert len(seen) == 100_001
