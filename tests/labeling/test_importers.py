"""Parsers and the validation pass, on small files written by each test (no dataset rows)."""

from __future__ import annotations

import json

import pytest

from labeling.import_check import records_check
from labeling.importers import (
    MAX_LINE_BYTES,
    FieldMap,
    ImportFormat,
    Record,
    RowError,
    c1_repair,
    records_read,
)

DAVIDSON_HEADER = ",count,hate_speech,offensive_language,neither,class,tweet\n"


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def read_all(path, fmt, **kwargs):
    return list(records_read(path, fmt=ImportFormat(fmt), **kwargs))


def errors_of(parsed):
    return [(entry.line, entry.message) for entry in parsed if isinstance(entry, RowError)]


def records_of(parsed):
    return [entry for entry in parsed if isinstance(entry, Record)]


def test_csv_rows_become_records_with_their_starting_line(tmp_path):
    path = write(
        tmp_path,
        "posts.csv",
        'id,body,verdict,lang\na1,hello,ok,en\na2,"two\nlines",bad,de\n\na3,third,,fr\n',
    )
    fields = FieldMap(
        text_field="body", id_field="id", label_field="verdict", metadata_fields=("lang",)
    )

    parsed = read_all(path, "csv", fields=fields)

    assert errors_of(parsed) == []
    assert [(r.line, r.row, r.external_id, r.text, r.label) for r in parsed] == [
        (2, 1, "a1", "hello", "ok"),
        (3, 2, "a2", "two\nlines", "bad"),
        (6, 3, "a3", "third", None),
    ]
    assert parsed[0].metadata == {"lang": "en"}


def test_without_an_id_field_the_id_is_the_data_row_number(tmp_path):
    path = write(tmp_path, "posts.csv", "text\nfirst\nsecond\n")

    assert [r.external_id for r in read_all(path, "csv")] == ["1", "2"]


def test_a_utf8_bom_and_crlf_line_endings_are_accepted(tmp_path):
    path = write(tmp_path, "posts.csv", b"\xef\xbb\xbfid,text\r\nx,caf\xc3\xa9\r\n")

    parsed = read_all(path, "csv", fields=FieldMap(id_field="id"))

    assert [(r.external_id, r.text) for r in parsed] == [("x", "café")]


def test_jsonl_objects_become_records_and_blank_lines_are_skipped(tmp_path):
    lines = [
        json.dumps({"id": 7, "text": "<script>alert(1)</script>", "label": "spam", "src": "x"}),
        "",
        json.dumps({"id": "b", "text": "fine", "label": None, "src": [1, 2]}),
    ]
    path = write(tmp_path, "items.jsonl", "\n".join(lines) + "\n")
    fields = FieldMap(id_field="id", label_field="label", metadata_fields=("src",))

    parsed = read_all(path, "jsonl", fields=fields)

    assert [(r.line, r.external_id, r.label, r.metadata) for r in parsed] == [
        (1, "7", "spam", {"src": "x"}),
        (3, "b", None, {"src": [1, 2]}),
    ]
    assert parsed[0].text == "<script>alert(1)</script>"


def test_malformed_json_is_reported_at_its_line_and_reading_goes_on(tmp_path):
    path = write(tmp_path, "items.jsonl", '{"text": "a"}\n{"text": "b",\n[1]\n{"text": "c"}\n')

    parsed = read_all(path, "jsonl")

    errors = errors_of(parsed)
    assert [line for line, _ in errors] == [2, 3]
    assert "malformed JSON" in errors[0][1]
    assert "expected a JSON object" in errors[1][1]
    assert [r.text for r in records_of(parsed)] == ["a", "c"]


def test_a_missing_jsonl_key_is_a_row_error(tmp_path):
    path = write(tmp_path, "items.jsonl", '{"id": 1, "text": "a"}\n{"text": "b"}\n')

    parsed = read_all(path, "jsonl", fields=FieldMap(id_field="id"))

    assert errors_of(parsed) == [(2, "missing key(s) 'id'")]


def test_bytes_that_are_not_utf8_are_reported_with_their_line(tmp_path):
    path = write(tmp_path, "posts.csv", b"id,text\n1,ok\n2,caf\xe9\n3,fine\n")

    parsed = read_all(path, "csv", fields=FieldMap(id_field="id"))

    errors = errors_of(parsed)
    assert len(errors) == 1
    assert errors[0][0] == 3
    assert "not valid UTF-8" in errors[0][1]
    assert [r.external_id for r in records_of(parsed)] == ["1", "3"]


def test_missing_columns_stop_reading_at_the_header(tmp_path):
    path = write(tmp_path, "posts.csv", "id,body\n1,hello\n")

    parsed = read_all(path, "csv", fields=FieldMap(id_field="id", label_field="label"))

    assert len(parsed) == 1
    assert parsed[0].line == 1
    assert parsed[0].fatal
    assert "'text', 'label'" in parsed[0].message


def test_a_row_with_the_wrong_number_of_fields_is_an_error(tmp_path):
    path = write(tmp_path, "posts.csv", "id,text\n1,a\n2,b,extra\n")

    parsed = read_all(path, "csv", fields=FieldMap(id_field="id"))

    assert errors_of(parsed) == [(3, "expected 2 fields as in the header, found 3")]


def test_an_overlong_line_is_reported_not_loaded(tmp_path):
    huge = "x" * (10 * 1024 * 1024)
    path = write(tmp_path, "posts.csv", f"id,text\n1,a\n2,{huge}\n3,c\n")
    seen: list[int] = []

    parsed = read_all(path, "csv", fields=FieldMap(id_field="id"), progress=seen.append)

    errors = errors_of(parsed)
    assert [line for line, _ in errors] == [3]
    assert f"{MAX_LINE_BYTES:,}" in errors[0][1]
    assert [r.external_id for r in records_of(parsed)] == ["1", "3"]
    assert sum(seen) == path.stat().st_size


def test_offset_and_limit_select_data_rows(tmp_path):
    path = write(tmp_path, "posts.csv", "text\n" + "".join(f"t{i}\n" for i in range(1, 11)))

    parsed = read_all(path, "csv", offset=3, limit=4)

    assert [r.text for r in parsed] == ["t4", "t5", "t6", "t7"]


def test_errors_in_rows_skipped_by_the_offset_are_not_reported(tmp_path):
    path = write(tmp_path, "posts.csv", b"text\n\xff\nfine\n")

    assert [r.text for r in read_all(path, "csv", offset=1)] == ["fine"]


def test_davidson_rows_carry_votes_majority_and_unescaped_text(tmp_path):
    path = write(
        tmp_path,
        "labeled_data.csv",
        DAVIDSON_HEADER
        + '10,3,0,1,2,2,"a &amp; b &#128514;\nsecond line"\n'
        + "12,6,4,2,0,0,plain\n",
    )

    parsed = read_all(path, "davidson")

    assert errors_of(parsed) == []
    first, second = parsed
    assert (first.line, first.external_id, first.label) == (2, "10", "neither")
    assert first.text == "a & b \U0001f602\nsecond line"
    assert first.votes == {"offensive_language": 1, "neither": 2}
    assert first.agreement == pytest.approx(2 / 3)
    assert (second.line, second.external_id, second.label) == (4, "12", "hate_speech")
    assert second.agreement == pytest.approx(4 / 6)


def test_davidson_votes_must_add_up_to_the_count(tmp_path):
    path = write(tmp_path, "labeled_data.csv", DAVIDSON_HEADER + "1,3,1,1,0,0,t\n2,3,0,0,3,7,t\n")

    errors = errors_of(read_all(path, "davidson"))

    assert [line for line, _ in errors] == [2, 3]
    assert "do not add up" in errors[0][1]
    assert "'class' must be 0, 1 or 2" in errors[1][1]


def test_sms_lines_are_repaired_and_numbered(tmp_path):
    path = write(
        tmp_path,
        "SMSSpamCollection.tsv",
        "ham\tI\u0092ll be there &lt;#&gt;\nspam\tWIN \u0093big\u0094 now\n\nham\tok\n",
    )

    parsed = read_all(path, "sms")

    assert [(r.external_id, r.label, r.text) for r in parsed] == [
        ("1", "ham", "I\u2019ll be there <#>"),
        ("2", "spam", "WIN \u201cbig\u201d now"),
        ("4", "ham", "ok"),
    ]


def test_sms_rejects_unknown_labels_and_lines_without_a_tab(tmp_path):
    path = write(tmp_path, "SMSSpamCollection.tsv", "ham\tok\nphish\tx\nno tab here\n")

    assert [line for line, _ in errors_of(read_all(path, "sms"))] == [2, 3]


def test_c1_repair_leaves_other_text_alone():
    assert c1_repair("plain £ ü") == "plain £ ü"
    assert c1_repair("it\u0092s \u0081") == "it\u2019s "


def record(line, external_id, label=None, votes=None):
    return Record(
        line=line, row=line, external_id=external_id, text="t", label=label, votes=votes or {}
    )


def test_the_check_finds_duplicate_ids_with_the_first_line():
    report = records_check([record(2, "a"), record(3, "b"), record(9, "a")], allowed_labels=None)

    assert not report.ok
    assert report.error_lines() == ["line 9: duplicate id 'a' (first seen on line 2)"]


def test_the_check_rejects_labels_outside_an_existing_policy():
    report = records_check(
        [record(2, "a", "spam"), record(3, "b", "phish"), record(4, "c", votes={"eggs": 1})],
        allowed_labels=["spam", "ham"],
    )

    assert [error.line for error in report.errors] == [3, 4]
    assert "'phish'" in report.errors[0].message


def test_the_check_collects_labels_in_order_of_first_appearance():
    report = records_check(
        [record(2, "a", "b"), record(3, "b", "a"), record(4, "c", "b"), record(5, "d")],
        allowed_labels=None,
    )

    assert report.ok
    assert report.labels == ["b", "a"]
    assert (report.rows, report.labeled_rows) == (4, 3)


def test_the_check_lists_twenty_errors_and_counts_the_rest():
    parsed = [RowError(line, "bad") for line in range(1, 26)]

    report = records_check(parsed, allowed_labels=None)

    lines = report.error_lines()
    assert len(lines) == 21
    assert lines[0] == "line 1: bad"
    assert lines[-1] == "and 5 more"


def test_an_unterminated_quote_is_fatal_at_the_line_where_the_record_starts(tmp_path):
    path = write(tmp_path, "posts.csv", 'id,text\n1,fine\n2,"never closed\nmore\nand more\n')

    parsed = read_all(path, "csv", fields=FieldMap(id_field="id"))

    assert [r.external_id for r in records_of(parsed)] == ["1"]
    error = parsed[-1]
    assert isinstance(error, RowError)
    assert error.fatal
    assert error.line == 3
    assert "cannot parse CSV" in error.message
