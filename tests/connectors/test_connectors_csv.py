"""The survey tools' CSV exports: detection, header rows, dates, true line numbers, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import as_utc
from bot.csvimport import import_records
from handlers.connectors.csv_presets import FORMATS, detect, records_for
from storage.db import read_scope
from storage.models import Customer, Response

FIXTURES = Path(__file__).parent.parent / "fixtures" / "connectors"

CASES = {
    # file: (format, accepted, rejected lines)
    "delighted_export.csv": ("delighted", 2, [5]),
    "surveymonkey_export.csv": ("surveymonkey", 2, [6]),
    "qualtrics_export.csv": ("qualtrics", 2, [6]),
    "typeform_export.csv": ("typeform", 2, []),
    "google_forms_export.csv": ("google-forms", 2, []),
}


def text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8-sig")


def stored(rt, source: str) -> dict[str, tuple[Response, Customer | None]]:
    with read_scope(rt.engine) as s:
        rows = s.execute(select(Response).where(Response.source == source)).scalars().all()
        return {r.external_id: (r, s.get(Customer, r.customer_id) if r.customer_id else None) for r in rows}


@pytest.mark.parametrize("name", sorted(CASES))
def test_export_is_detected_and_imported_with_true_line_numbers(rt, name):
    fmt, accepted, rejected_lines = CASES[name]
    assert detect(text(name)) == fmt
    records, mapper = records_for(fmt, text(name), rt.settings)
    summary = import_records(rt, records, mapper=mapper)
    assert summary.accepted == accepted
    assert [r.line for r in summary.rejected] == rejected_lines
    records, mapper = records_for(fmt, text(name), rt.settings)
    again = import_records(rt, records, mapper=mapper)
    assert (again.accepted, again.duplicates) == (0, accepted)


def test_generic_csv_is_detected_as_generic(rt):
    csv_text = "id,score,comment,customer_id\nr1,3,slow,c1\n"
    assert detect(csv_text) == "generic"
    records, mapper = records_for("generic", csv_text, rt.settings)
    assert import_records(rt, records, mapper=mapper).accepted == 1
    assert set(FORMATS) == {"generic", "delighted", "surveymonkey", "qualtrics", "typeform", "google-forms"}
    with pytest.raises(ValueError, match="unknown format"):
        records_for("medallia", csv_text, rt.settings)


def test_generic_rows_are_refused_naming_their_column_and_amounts_read_as_people_write_them(rt):
    csv_text = ("id,score,customer_id,customer_email,arr,region\n"
                'r1, 7 ,c1,ops@a.example,"$48,000.50", EMEA \n'
                "r2,7.5,c2,,,\n"
                "r3,8,c3,,12 apples,\n"
                f"r4,8,c4,{'x' * 321},,\n"
                "r5,8,c5,,,a\x00b\n"
                " ,8,c6,,,\n")
    records, mapper = records_for("generic", csv_text, rt.settings)
    summary = import_records(rt, records, mapper=mapper)
    assert summary.accepted == 1
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (3, "score must be a whole number from 0 to 10"), (4, "arr must be a number"),
        (5, "customer_email must be at most 320 characters"), (6, "region must not contain NUL characters"),
        (7, "id is required")]
    (response, customer), = stored(rt, "api").values()
    assert (response.score, response.arr, response.tags) == (7, 48000.5, {"region": "EMEA"})
    assert (customer.external_id, customer.email, customer.arr) == ("c1", "ops@a.example", 48000.5)


def test_a_generic_row_with_spaces_around_its_date_is_read_all_the_same(rt):
    csv_text = "id,score,submitted_at\nr1, 7 , 2026-11-20T10:00:00Z \nr2,8,\t2026-11-19 10:00\nr3,8, soon \n"
    records, mapper = records_for("generic", csv_text, rt.settings)
    summary = import_records(rt, records, mapper=mapper)
    assert summary.accepted == 2
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (4, "submitted_at must be an ISO 8601 date-time such as 2026-11-20T10:00:00Z")]
    when = {rid: as_utc(r.submitted_at) for rid, (r, _) in stored(rt, "api").items()}
    assert when == {"r1": datetime(2026, 11, 20, 10, tzinfo=UTC), "r2": datetime(2026, 11, 19, 10, tzinfo=UTC)}


def _import(rt, name: str, fmt: str | None = None):
    records, mapper = records_for(fmt or detect(text(name)), text(name), rt.settings)
    return import_records(rt, records, mapper=mapper)


def test_qualtrics_three_header_rows_and_time_zone_of_row_three(rt):
    summary = _import(rt, "qualtrics_export.csv")
    assert "RecordedDate is not a date npsbot can read" in summary.rejected[0].reason
    rows = stored(rt, "qualtrics")
    row, cust = rows["R_suq806jn8LGzhx7"]
    # 05:31:40 in America/Denver (MST, UTC-7) is 12:31:40 UTC.
    assert as_utc(row.submitted_at) == datetime(2026, 11, 19, 12, 31, 40, tzinfo=UTC)
    assert (row.score, row.comment, row.segment, row.arr) == (2, "The product crashes daily", "enterprise", 250000)
    assert (cust.external_id, cust.name, cust.email) == ("cus_500", "Hooli", "ops@hooli.example")
    assert rows["R_2bcXyZ"][0].comment is None


def test_surveymonkey_two_header_rows_us_dates_and_multiline_answers(rt):
    summary = _import(rt, "surveymonkey_export.csv")
    assert summary.rejected[0].reason.endswith("is empty: the NPS question was not answered")
    rows = stored(rt, "surveymonkey")
    row, cust = rows["118276395742"]
    assert as_utc(row.submitted_at) == datetime(2026, 11, 19, 22, 2, 13, tzinfo=UTC)
    assert (row.score, row.comment, row.segment) == (2, 'Reports are\n"always" late', "mid-market")
    assert (cust.external_id, cust.name) == ("cus_9", "Initech")


def test_delighted_export_offsets_properties_and_rejected_score(rt):
    summary = _import(rt, "delighted_export.csv")
    assert summary.rejected[0].reason == "score must be a whole number from 0 to 10"
    row, cust = stored(rt, "delighted")["5435"]
    assert as_utc(row.submitted_at) == datetime(2026, 11, 18, 22, 3, 12, tzinfo=UTC)
    assert (row.score, row.comment, row.segment, row.arr) == (3, "Support never answered.\nTwice.", "enterprise",
                                                                48000)
    assert (cust.external_id, cust.name, cust.owner) == ("cus_42", "Acme Corp", "alice@acme.example")


def test_typeform_and_google_forms_dates(rt):
    _import(rt, "typeform_export.csv")
    _import(rt, "google_forms_export.csv")
    tf, _ = stored(rt, "typeform")["a3a12ec67a1365927098a606107fac15"]
    assert as_utc(tf.submitted_at) == datetime(2026, 11, 19, 18, 17, 2, tzinfo=UTC)
    (gf, cust), = [v for v in stored(rt, "google-forms").values() if v[0].score == 5]
    assert as_utc(gf.submitted_at) == datetime(2026, 11, 19, 9, 15, tzinfo=UTC)
    assert (gf.comment, cust.name, cust.external_id) == ("Too expensive for what it does", "Vandelay Industries",
                                                         "cus_314")


def test_configured_score_column(rt, setenv):
    setenv("NPSBOT_TYPEFORM_SCORE_FIELD", "company")
    summary = _import(rt, "typeform_export.csv")
    assert summary.accepted == 0
    assert summary.rejected[0].reason == "score must be a whole number from 0 to 10"
    setenv("NPSBOT_TYPEFORM_SCORE_FIELD", "Likelihood")
    summary = _import(rt, "typeform_export.csv")
    assert summary.rejected[0].reason == "no field named Likelihood (NPSBOT_TYPEFORM_SCORE_FIELD)"


def _cli(args: list[str], db_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NPSBOT_", "SLACK_", "MICROSOFT_"))}
    env.update(DATABASE_URL=db_url, COLUMNS="200")
    npsbot = Path(sys.executable).with_name("npsbot")
    return subprocess.run([str(npsbot), "import", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_cli_import_detects_the_format_and_reports_line_numbers(tmp_path, db_url):
    done = _cli([str(FIXTURES / "qualtrics_export.csv")], db_url, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "(qualtrics)" in done.stdout
    assert "line 6: RecordedDate is not a date npsbot can read" in done.stdout
    again = _cli([str(FIXTURES / "typeform_export.csv"), "--format", "typeform"], db_url, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(typeform)" in again.stdout
