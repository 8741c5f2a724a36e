"""The test tooling tells the truth: `make test` names its two runs, a skipped PostgreSQL run names
the address it tried, and CI fails on a missing golden file instead of writing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden import assert_golden

ROOT = Path(__file__).resolve().parent.parent


def test_make_test_labels_its_sqlite_and_postgresql_runs():
    done = subprocess.run(["make", "-n", "test-sqlite", "test-postgres", "BIN=.venv/bin"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "== npsbot test suite on SQLite ==" in done.stdout
    assert "== npsbot test suite on PostgreSQL (127.0.0.1:5432, database test) ==" in done.stdout


def test_the_database_fixture_answers(db_url):
    assert db_url.startswith(("sqlite", "postgresql"))


def test_the_postgresql_skip_names_the_address_it_tried():
    env = {**os.environ, "NPSBOT_TEST_DB": "postgres",
           "NPSBOT_TEST_PG_ADMIN": "postgresql+psycopg://127.0.0.1:1/test"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "tests/test_test_tooling.py::test_the_database_fixture_answers"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "PostgreSQL at 127.0.0.1:1/test is not reachable" in done.stdout, done.stdout + done.stderr


def test_a_missing_golden_file_fails_in_ci_instead_of_being_written(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    missing = tmp_path / "new.golden"
    with pytest.raises(AssertionError, match="is missing"):
        assert_golden(missing, "rendered\n")
    assert not missing.exists()
    monkeypatch.delenv("CI")
    assert_golden(missing, "rendered\n")
    assert missing.read_text() == "rendered\n"
