"""Which format a file is, from its content; a manual override that contradicts the content is
refused; files that only accompany a run say what to do with them."""

from __future__ import annotations

import json

import pytest

from audits.ingest import IngestError, detect_format, open_evidence
from tests.audits.helpers import SHARED, fixture, shared

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared/formats is not present")


@needs_shared
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("inspect_refusal_demo.eval", "inspect_eval"),
        ("inspect_refusal_demo.json", "inspect_json"),
        ("lm_eval_samples_demo.jsonl", "lm_eval_jsonl"),
        ("promptfoo_refusal_demo.json", "promptfoo_json"),
    ],
)
def test_it_detects_the_real_files(name, expected):
    assert detect_format(shared(name)) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("inspect_xstest.eval", "inspect_eval"),
        ("inspect_xstest_deflate.eval", "inspect_eval"),
        ("inspect_xstest.json", "inspect_json"),
        ("xstest_v2_completions.csv", "xstest_csv"),
        ("harmbench_results.json", "harmbench_json"),
        ("samples_xstest_demo_2026-11-22T05-03-24.710488.jsonl", "lm_eval_jsonl"),
        ("promptfoo_refusal_fixture.json", "promptfoo_json"),
        ("airbench_result_current.csv", "airbench_csv"),
        ("generic.csv", "generic_csv"),
        ("generic.jsonl", "generic_jsonl"),
    ],
)
def test_it_detects_the_fixtures(name, expected):
    assert detect_format(fixture(name)) == expected


def test_it_detects_by_content_not_by_name(tmp_path):
    path = tmp_path / "results.txt"
    path.write_bytes(fixture("harmbench_results.json").read_bytes())

    assert detect_format(path) == "harmbench_json"


@pytest.mark.parametrize("transform", ["minified", "sorted", "bom"])
def test_it_detects_json_however_it_is_laid_out(tmp_path, transform):
    data = json.loads(fixture("promptfoo_refusal_fixture.json").read_text())
    text = {
        "minified": json.dumps(data, separators=(",", ":")),
        "sorted": json.dumps(data, indent=2, sort_keys=True),
        "bom": "\ufeff" + json.dumps(data, indent=2),
    }[transform]
    path = tmp_path / "out.json"
    path.write_text(text, encoding="utf-8")

    assert detect_format(path) == "promptfoo_json"
    assert len(list(open_evidence(path).samples())) == 7


def test_it_detects_a_jsonl_whose_first_line_is_longer_than_the_sniff(tmp_path):
    path = tmp_path / "long.jsonl"
    line = {"sample_id": "a", "prompt": "p", "response": "r" * (2 * 1024 * 1024)}
    path.write_text(json.dumps(line) + "\n" + json.dumps({**line, "sample_id": "b"}) + "\n")

    assert detect_format(path) == "generic_jsonl"


def test_it_detects_a_single_line_generic_jsonl(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text('{"sample_id": "a", "prompt": "p", "response": "r"}\n')

    assert detect_format(path) == "generic_jsonl"


@needs_shared
def test_it_explains_what_to_do_with_an_lm_eval_results_file():
    with pytest.raises(IngestError, match="results summary, which has no per-sample") as caught:
        detect_format(shared("lm_eval_results_demo.json"))
    assert caught.value.code == "wrong_format"


def test_it_explains_what_to_do_with_a_harmbench_behaviors_csv():
    with pytest.raises(IngestError, match="HarmBench behaviors CSV, which has no model"):
        open_evidence(fixture("harmbench_behaviors.csv"))


@needs_shared
def test_it_refuses_an_override_that_contradicts_the_content():
    with pytest.raises(IngestError) as caught:
        open_evidence(shared("inspect_refusal_demo.json"), format="promptfoo_json")

    assert str(caught.value) == (
        "You chose a promptfoo results JSON, but this file is an inspect-ai .json log."
    )
    assert caught.value.code == "wrong_format"


def test_it_refuses_an_unknown_format_name():
    with pytest.raises(IngestError, match="Unknown evidence format 'pdf'"):
        open_evidence(fixture("generic.csv"), format="pdf")


def test_an_override_reads_a_file_detection_cannot_place(tmp_path):
    path = tmp_path / "odd.jsonl"
    # A generic JSONL whose first line is blank: detection sees no object on line one.
    path.write_text('\n{"sample_id": "a", "prompt": "p", "response": "r", "label": "refusal"}\n')

    samples = list(open_evidence(path, format="generic_jsonl").samples())

    assert [s.label for s in samples] == ["refusal"]


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "openrefusal", "version": "1.0.0", "dependencies": {}}',
        '[{"a": 1}, {"a": 2}]',
        "name,age\nalice,3\n",
        '{"a": 1}\n{"a": 2}\n',
    ],
    ids=["package.json", "json-list", "csv", "jsonl"],
)
def test_it_refuses_files_of_other_tools(tmp_path, content):
    path = tmp_path / "other"
    path.write_text(content)

    with pytest.raises(IngestError, match="not a recognised evidence format") as caught:
        open_evidence(path)
    assert caught.value.code == "wrong_format"


def test_it_refuses_a_binary_file(tmp_path):
    path = tmp_path / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))

    with pytest.raises(IngestError, match="binary"):
        detect_format(path)


def test_it_refuses_a_zip_that_is_not_an_inspect_log(tmp_path):
    import zipfile

    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", "hello")

    with pytest.raises(IngestError, match="not an inspect-ai log"):
        detect_format(path)
