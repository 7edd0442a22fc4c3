"""Every kind of bad upload gets a clear IngestError that says what failed and where — and
nothing is silently coerced."""

from __future__ import annotations

import json
import os
import time
import zipfile

import pytest

from audits.ingest import IngestError, Limits, detect_format, open_evidence
from audits.ingest.types import GiB, MiB
from tests.audits.helpers import fixture, write_zip

XSTEST_HEADER = "id,type,prompt,completion,annotation_1,annotation_2,agreement,final_label\n"


def consume(path, **kwargs):
    return list(open_evidence(path, **kwargs).samples())


def error_of(path, **kwargs) -> IngestError:
    with pytest.raises(IngestError) as caught:
        consume(path, **kwargs)
    return caught.value


def eval_members() -> list[dict]:
    """The members of a real inspect .eval log, decompressed, to rebuild archives from."""
    from audits.ingest._zip import ZipReader

    path = fixture("inspect_xstest.eval")
    with ZipReader(path, path.stat().st_size, Limits()) as archive:
        return [{"name": m.name, "data": archive.read_member(m)} for m in archive.members()]


# -- empty and oversized ------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \n\n \t\n"], ids=["empty", "whitespace"])
def test_it_refuses_an_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)

    error = error_of(path)

    assert error.code == "empty"
    assert error.message in ("The file is empty.", "The file contains only whitespace.")


def test_it_refuses_a_2_gb_upload_before_reading_it(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as f:  # sparse: costs no disk and would take long to read
        f.truncate(2 * GiB)

    started = time.monotonic()
    with pytest.raises(IngestError) as caught:
        detect_format(path)
    assert time.monotonic() - started < 1
    assert caught.value.code == "too_large"
    assert str(caught.value) == (
        "The file is 2.0 GiB, over the 1.0 GiB limit for one evidence upload."
    )
    with pytest.raises(IngestError, match=r"over the 1\.0 GiB limit"):
        open_evidence(path, format="generic_jsonl")


def test_it_applies_a_configured_size_limit_to_the_companion_too(tmp_path):
    behaviors = tmp_path / "behaviors.csv"
    behaviors.write_text(fixture("harmbench_behaviors.csv").read_text() * 10)
    limits = Limits(max_file_bytes=5000)

    with pytest.raises(IngestError, match=r"over the 4\.9 KiB limit"):
        open_evidence(fixture("harmbench_results.json"), companion=behaviors, limits=limits)
    assert consume(fixture("generic.csv"), limits=limits)


def test_it_refuses_a_header_only_file(tmp_path):
    path = tmp_path / "xstest.csv"
    path.write_text(XSTEST_HEADER)

    error = error_of(path)

    assert (error.code, error.message) == ("no_samples", "The XSTest CSV contains no samples.")


def test_it_refuses_an_inspect_log_without_samples(tmp_path):
    data = json.loads(fixture("inspect_xstest.json").read_text())
    data["samples"] = []
    path = tmp_path / "log.json"
    path.write_text(json.dumps(data))

    assert error_of(path).code == "no_samples"


# -- zip archives -------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0.5, 0.9, -10, -30])
def test_it_refuses_a_truncated_eval_log(tmp_path, keep):
    data = fixture("inspect_xstest.eval").read_bytes()
    cut = int(len(data) * keep) if keep > 0 else len(data) + keep
    path = tmp_path / "cut.eval"
    path.write_bytes(data[:cut])

    with pytest.raises(IngestError) as caught:
        consume(path, format="inspect_eval")

    assert caught.value.code == "truncated"
    assert "truncated" in str(caught.value)


def test_it_refuses_a_damaged_eval_member(tmp_path):
    members = eval_members()
    sample = next(m for m in members if m["name"] == "samples/3_epoch_1.json")
    sample["crc"] = 1234  # the bytes no longer match their checksum
    path = write_zip(tmp_path / "bad.eval", members)

    error = error_of(path)

    assert error.code == "truncated"
    assert error.message.startswith("The archive member samples/3_epoch_1.json is damaged")


def test_it_refuses_corrupt_zstandard_data(tmp_path):
    members = eval_members()
    sample = next(m for m in members if m["name"] == "samples/1_epoch_1.json")
    from tests.audits.helpers import compress

    raw = bytearray(compress(sample["data"], 93))
    raw[len(raw) // 2 : len(raw) // 2 + 8] = b"\xff" * 8
    sample["raw"] = bytes(raw)
    path = write_zip(tmp_path / "bad.eval", members)

    assert error_of(path).code in ("truncated", "malformed")


def test_it_refuses_an_honest_zip_bomb_before_decompressing(tmp_path):
    members = eval_members()
    members.append({"name": "samples/bomb_epoch_1.json", "data": bytes(64 * MiB), "method": 8})
    path = write_zip(tmp_path / "bomb.eval", members)

    error = error_of(path)

    assert error.code == "zip_bomb"
    assert "samples/bomb_epoch_1.json" in error.message


@pytest.mark.parametrize("method", [8, 93])
def test_it_refuses_a_zip_bomb_that_lies_about_its_size(tmp_path, method):
    members = eval_members()
    # Declares 100 bytes, expands to 64 MiB of a valid-looking JSON string.
    payload = b'{"id": "x", "input": "' + b"a" * (64 * MiB) + b'"}'
    members.insert(1, {"name": "samples/x_epoch_1.json", "data": payload, "method": method,
                       "size": 100})  # fmt: skip
    path = write_zip(tmp_path / "liar.eval", members)

    assert error_of(path).code == "zip_bomb"


def test_it_limits_the_total_decompressed_size(tmp_path):
    members = eval_members()
    limits = Limits(max_uncompressed_bytes=40_000, ratio_floor_bytes=10 * MiB)
    path = write_zip(tmp_path / "many.eval", members)

    error = error_of(path, limits=limits)

    assert error.code == "zip_bomb"


def test_it_limits_the_number_of_zip_members(tmp_path):
    path = write_zip(tmp_path / "many.eval", eval_members())

    with pytest.raises(IngestError, match="members, over the limit of 3"):
        consume(path, limits=Limits(max_zip_members=3))


def test_it_reads_zip64_and_stored_members(tmp_path):
    path = tmp_path / "zip64.eval"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for member in eval_members():
            with archive.open(member["name"], "w", force_zip64=True) as f:
                f.write(member["data"])

    samples = consume(path)

    assert len(samples) == 5


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"flags": 1}, "is encrypted"), ({"method": 12}, "uses zip compression method 12")],
)
def test_it_refuses_encrypted_or_unknown_compression(tmp_path, changes, message):
    members = eval_members()
    sample = next(m for m in members if m["name"].startswith("samples/"))
    sample.update(changes)
    if changes.get("method") == 12:
        sample["raw"] = b"BZh9"
    path = write_zip(tmp_path / "odd.eval", members)

    error = error_of(path)

    assert error.code == "unsupported"
    assert message in error.message


def test_it_reads_an_eval_member_with_nan(tmp_path):
    members = eval_members()
    sample = next(m for m in members if m["name"] == "samples/1_epoch_1.json")
    data = json.loads(sample["data"])
    data["metadata"]["score"] = float("nan")
    sample["data"] = json.dumps(data).encode()
    path = write_zip(tmp_path / "nan.eval", members)

    samples = {s.sample_id: s for s in consume(path)}

    assert samples["1"].label == "compliance"
    assert samples["1"].metadata["score"] != samples["1"].metadata["score"]  # NaN


def test_it_reads_a_small_json_log_with_nan(tmp_path):
    text = fixture("inspect_xstest.json").read_text()
    data = json.loads(text)
    data["results"]["scores"][0]["metrics"]["stderr"]["value"] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(data, indent=2))

    assert len(consume(path)) == 5


def test_it_refuses_a_large_json_log_with_nan(tmp_path):
    data = json.loads(fixture("inspect_xstest.json").read_text())
    data["results"]["scores"][0]["metrics"]["stderr"]["value"] = float("nan")
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(data))

    with pytest.raises(IngestError, match="NaN or Infinity"):
        consume(path, limits=Limits(max_record_bytes=10_000))


# -- CSV columns, encodings, malformed lines ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "missing"),
    [
        ("xstest.csv", "id,type,prompt,final_label\nv2-1,homonyms,p,1_full_compliance\n",
         "'completion'"),
        ("generic.csv", "sample_id,prompt,label\na,p,refusal\n", "'response'"),
        ("air.csv", "cate-idx,l2-name,l3-name,l4-name,prompt,response\n1,a,b,c,p,r\n",
         "'score'"),
    ],
)  # fmt: skip
def test_it_names_a_missing_csv_column(tmp_path, name, content, missing):
    path = tmp_path / name
    path.write_text(content)

    error = error_of(path)

    assert error.code == "missing_column"
    assert f"missing the column {missing}" in error.message
    assert error.where == "line 1"


def test_it_names_a_missing_column_of_the_behaviors_csv(tmp_path):
    behaviors = tmp_path / "behaviors.csv"
    behaviors.write_text("Behavior,FunctionalCategory,BehaviorID\nx,standard,y\n")

    error = error_of(fixture("harmbench_results.json"), companion=behaviors)

    assert "HarmBench behaviors CSV is missing the column 'SemanticCategory'" in error.message


def test_it_names_a_missing_jsonl_field(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text('{"sample_id": "a", "prompt": "p", "response": "r"}\n{"sample_id": "b"}\n')

    error = error_of(path)

    assert (error.code, error.where) == ("missing_column", "line 2")


@pytest.mark.parametrize(
    ("name", "encoding", "content"),
    [
        ("latin1.csv", "latin-1", XSTEST_HEADER + "v2-1,homonyms,Qu'est-ce qu'un café?,Un café "
         "est une boisson.,1_full_compliance,1_full_compliance,TRUE,1_full_compliance\n"),
        ("latin1.jsonl", "latin-1", '{"sample_id": "a", "prompt": "p", "response": "r"}\n'
         '{"sample_id": "b", "prompt": "café", "response": "r"}\n'),
        ("utf16.jsonl", "utf-16", '{"sample_id": "a", "prompt": "p", "response": "r"}\n'),
        ("latin1.json", "latin-1", json.dumps({"x": [{"test_case": "café", "generation": "g",
         "label": 1}]}, ensure_ascii=False)),
    ],
)  # fmt: skip
def test_it_refuses_a_file_that_is_not_utf8(tmp_path, name, encoding, content):
    path = tmp_path / name
    path.write_bytes(content.encode(encoding))

    error = error_of(path)

    assert error.code == "encoding"
    assert "UTF-8" in error.message
    if name == "latin1.jsonl":
        assert error.where == "line 2"


def test_it_accepts_a_utf8_bom(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(fixture("generic.csv").read_text().encode("utf-8-sig"))

    assert len(consume(path)) == 4


def test_it_refuses_a_row_with_the_wrong_number_of_fields(tmp_path):
    path = tmp_path / "generic.csv"
    path.write_text("sample_id,prompt,response\na,p,r\nb,p\n")

    error = error_of(path)

    assert (error.code, error.where) == ("malformed", "line 3")
    assert error.message == "The row has 2 fields; the header has 3."


def test_it_refuses_an_unterminated_quote(tmp_path):
    path = tmp_path / "generic.csv"
    path.write_text('sample_id,prompt,response\na,"p,r\n')

    assert error_of(path).code == "malformed"


def test_it_refuses_a_jsonl_line_that_is_not_json(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text('{"sample_id": "a", "prompt": "p", "response": "r"}\n{"sample_id": \n')

    error = error_of(path)

    assert (error.code, error.where) == ("malformed", "line 2")


def test_it_refuses_a_line_over_the_record_limit(tmp_path):
    path = tmp_path / "run.jsonl"
    long = "x" * 5000
    path.write_text(f'{{"sample_id": "a", "prompt": "p", "response": "{long}"}}\n')

    error = error_of(path, limits=Limits(max_record_bytes=1000))

    assert (error.code, error.where) == ("malformed", "line 1")


def test_it_refuses_an_invalid_should_refuse(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("sample_id,prompt,response,should_refuse\na,p,r,maybe\n")

    error = error_of(path)

    assert error.message == "should_refuse must be true, false or empty, not 'maybe'."


# -- JSON of the wrong shape, truncated ---------------------------------------------------


@pytest.mark.parametrize(
    "name", ["promptfoo_refusal_fixture.json", "harmbench_results.json", "inspect_xstest.json"]
)
def test_it_refuses_truncated_json(tmp_path, name):
    data = fixture(name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) * 2 // 3])

    error = error_of(path)

    assert error.code == "truncated"
    assert "truncated" in error.message


def test_it_refuses_a_harmbench_file_of_the_wrong_shape(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"a": [{"generation": "g", "label": 1}], "b": 5}))

    error = error_of(path)

    assert error.code == "wrong_format"
    assert error.message.startswith("This is not a HarmBench results JSON")


def test_it_refuses_an_lm_eval_line_of_another_shape(tmp_path):
    lines = fixture("samples_xstest_demo_2026-11-22T05-03-24.710488.jsonl").read_text()
    path = tmp_path / "samples.jsonl"
    path.write_text(lines.splitlines()[0] + '\n{"sample_id": "x"}\n')

    error = error_of(path)

    assert (error.code, error.where) == ("wrong_format", "line 2")


def test_it_refuses_a_companion_of_the_wrong_kind(tmp_path):
    path = fixture("samples_xstest_demo_2026-11-22T05-03-24.710488.jsonl")

    with pytest.raises(IngestError, match="not an lm-evaluation-harness results JSON"):
        open_evidence(path, companion=fixture("promptfoo_refusal_fixture.json")).meta  # noqa: B018


def test_it_rejects_options_a_format_does_not_take():
    with pytest.raises(TypeError, match="judge_revision"):
        open_evidence(fixture("generic.csv"), judge_revision="legacy")
    with pytest.raises(TypeError, match="no companion"):
        open_evidence(fixture("generic.csv"), companion=fixture("generic.jsonl"))
    with pytest.raises(IngestError, match="Unknown AIR-Bench judge revision 'v2'"):
        open_evidence(fixture("airbench_result_current.csv"), judge_revision="v2")


# -- duplicate ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("run.csv", "sample_id,prompt,response\na,p,r\nb,p,r\na,p,r\n", "line 4"),
        ("run.jsonl", '{"sample_id": "a", "prompt": "p", "response": "r"}\n' * 2, "line 2"),
        ("xstest.csv", XSTEST_HEADER + "v2-1,homonyms,p,c,,,,\n" * 2, "line 3"),
    ],
)
def test_it_refuses_duplicate_sample_ids(tmp_path, name, content, where):
    path = tmp_path / name
    path.write_text(content)

    error = error_of(path)

    assert error.code == "duplicate_id"
    assert error.where == where
    assert "appears more than once" in error.message


def test_it_refuses_duplicate_harmbench_behaviors(tmp_path):
    path = tmp_path / "results.json"
    item = '{"test_case": "t", "generation": "g", "label": 0}'
    path.write_text(f'{{"b1": [{item}], "b1": [{item}]}}')

    assert error_of(path).code == "duplicate_id"


# -- labels outside the vocabulary --------------------------------------------------------


def test_it_reports_every_unknown_xstest_label_with_counts(tmp_path):
    rows = [
        "v2-1,homonyms,p,c,,,,1_full_compliance",
        "v2-2,homonyms,p,c,,,,maybe",
        "v2-3,homonyms,p,c,,,,2_full_refusal",
        "v2-4,homonyms,p,c,,,,4_x",
        "v2-5,homonyms,p,c,,,,maybe",
    ]
    path = tmp_path / "xstest.csv"
    path.write_text(XSTEST_HEADER + "\n".join(rows) + "\n")
    evidence = open_evidence(path)
    received = []

    with pytest.raises(IngestError) as caught:
        received.extend(evidence.samples())

    assert str(caught.value) == (
        "3 samples have labels outside XSTest's vocabulary: 'maybe' (2), '4_x' (1). (line 3)"
    )
    assert caught.value.code == "unknown_label"
    # The good samples streamed first; the error comes at the end, so nothing is kept.
    assert [s.sample_id for s in received] == ["v2-1", "v2-3"]


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        (
            "harmbench.json",
            lambda: json.dumps({"b": [{"test_case": "t", "generation": "g", "label": 2}]}),
            "1 sample has a label outside HarmBench's vocabulary: '2' (1).",
        ),
        (
            "air.csv",
            lambda: (
                "cate-idx,l2-name,l3-name,l4-name,prompt,response,score_reason,score\n"
                "1.1,a,b,c,p,r,x,0.7\n1.2,a,b,c,p,r,x,high\n"
            ),
            "2 samples have labels outside AIR-Bench's vocabulary: '0.7' (1), 'high' (1).",
        ),
        (
            "run.jsonl",
            lambda: '{"sample_id": "a", "prompt": "p", "response": "r", "label": "refused"}\n',
            "1 sample has a label outside the generic format's vocabulary: 'refused' (1).",
        ),
    ],
)
def test_it_reports_unknown_labels_of_each_format(tmp_path, name, make, expected):
    path = tmp_path / name
    path.write_text(make())

    error = error_of(path)

    assert error.code == "unknown_label"
    assert error.message == expected


def test_it_reports_an_unknown_lm_eval_metric_value(tmp_path):
    lines = fixture("samples_xstest_demo_2026-11-22T05-03-24.710488.jsonl").read_text()
    records = [json.loads(line) for line in lines.splitlines()[:5]]
    records[2]["refusal"] = 0.5
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")

    error = error_of(path)

    assert error.message == (
        "1 sample has a label outside the refusal metric's vocabulary: '0.5' (1)."
    )
    assert error.where == "line 3"


def test_it_reports_an_unknown_inspect_xstest_grade(tmp_path):
    data = json.loads(fixture("inspect_xstest.json").read_text())
    data["samples"][1]["scores"]["model_graded_qa"]["value"] = "N"
    path = tmp_path / "log.json"
    path.write_text(json.dumps(data))

    error = error_of(path)

    assert error.message == "1 sample has a label outside the inspect scorer's vocabulary: 'N' (1)."


def test_it_reports_an_unknown_strong_reject_refusal(tmp_path):
    members = []
    from audits.ingest._zip import ZipReader

    path = fixture("inspect_strong_reject.eval")
    with ZipReader(path, path.stat().st_size, Limits()) as archive:
        for member in archive.members():
            data = archive.read_member(member)
            if member.name == "samples/sr-2_epoch_1.json":
                sample = json.loads(data)
                sample["scores"]["strong_reject_scorer"]["value"]["refusal"] = 2
                data = json.dumps(sample).encode()
            members.append({"name": member.name, "data": data})
    out = write_zip(tmp_path / "sr.eval", members)

    assert error_of(out).message.endswith("vocabulary: 'refusal=2' (1).")


def test_it_reports_a_promptfoo_assertion_without_a_verdict(tmp_path):
    data = json.loads(fixture("promptfoo_refusal_fixture.json").read_text())
    data["results"]["results"][3]["gradingResult"]["componentResults"][0]["pass"] = "yes"
    path = tmp_path / "out.json"
    path.write_text(json.dumps(data))

    assert error_of(path).message == (
        "1 sample has a label outside promptfoo's is-refusal vocabulary: 'yes' (1)."
    )


def test_it_caps_the_distinct_unknown_values_it_lists(tmp_path):
    rows = [f"v2-{i},homonyms,p,c,,,,bad_{i}" for i in range(30)]
    path = tmp_path / "xstest.csv"
    path.write_text(XSTEST_HEADER + "\n".join(rows) + "\n")

    error = error_of(path)

    assert error.message.startswith("30 samples have labels outside XSTest's vocabulary:")
    assert error.message.endswith(", and 10 more with other values.")


def test_a_sparse_file_helper_does_not_leave_big_files(tmp_path):
    # Guard for the 2 GB test above: sparse files occupy (almost) no blocks.
    path = tmp_path / "sparse"
    with open(path, "wb") as f:
        f.truncate(GiB)
    assert os.stat(path).st_blocks * 512 < MiB
