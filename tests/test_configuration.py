"""One configuration surface, exercised as an operator meets it: `.env`, `npsbot` as a subprocess.

* a survey tool's secret in `.env` protects its webhook exactly as one exported in the shell;
* nothing but the settings module reads the environment;
* a half-configured platform stops `npsbot serve` with one line naming the missing variable;
* every variable `Settings` reads is in `.env.example` and the README's configuration table;
* start-up and CLI mistakes print one line and exit non-zero, never a traceback.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.config import STARTUP_RULES, Settings, env_name, variable_names

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "connectors"
NPSBOT = str(Path(sys.executable).with_name("npsbot"))


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any npsbot, Slack or Teams setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NPSBOT_", "SLACK_", "MICROSOFT_", "Microsoft", "DATABASE_URL", "PORT"))}
    env.update(COLUMNS="80", **extra)
    return env


def npsbot(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([NPSBOT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc: subprocess.Popen, port: int) -> None:
    """Until `npsbot serve` answers /healthz (the port is bound before the app is ready)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"npsbot serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.05)
    pytest.fail("npsbot serve did not start within 30 s")


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    assert "Traceback" not in text
    return lines[0]


# -- 1. a secret in .env counts like one exported ----------------------------------------------

@pytest.fixture
def serve_with_dotenv(tmp_path, db_url):
    """`npsbot serve` started in a directory whose `.env` holds the Typeform secret and the token."""
    port = free_port()
    (tmp_path / ".env").write_text("NPSBOT_TYPEFORM_SECRET=tf-secret-from-dotenv\n"
                                   "NPSBOT_WEBHOOK_TOKEN=token-from-dotenv\n"
                                   f"DATABASE_URL={db_url}\n")
    proc = subprocess.Popen([NPSBOT, "serve", "--port", str(port)], cwd=tmp_path, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(proc, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_typeform_secret_in_dotenv_refuses_a_forged_signature(serve_with_dotenv):
    body = (FIXTURES / "typeform_form_response.json").read_bytes()
    url = f"{serve_with_dotenv}/webhooks/typeform?token=token-from-dotenv"
    assert post(url, body, {"Typeform-Signature": "sha256=AAAA"}) == 401
    good = "sha256=" + base64.b64encode(
        hmac.new(b"tf-secret-from-dotenv", body, hashlib.sha256).digest()).decode()
    assert post(url, body, {"Typeform-Signature": good}) == 202


def test_dotenv_and_environment_give_the_same_nested_settings(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("NPSBOT_TYPEFORM_SECRET=s1\nNPSBOT_QUALTRICS_API_TOKEN=q1\n"
                                   "NPSBOT_GOOGLE_FORMS_SCORE_FIELD=How likely, NPS\n")
    from_file = Settings()
    assert from_file.typeform.secret_value() == "s1"
    assert from_file.qualtrics.api_token.get_secret_value() == "q1"
    assert from_file.tool("google-forms").field_names("score") == ("How likely", "NPS")
    (tmp_path / ".env").unlink()
    monkeypatch.setenv("NPSBOT_TYPEFORM_SECRET", "s1")
    assert Settings().typeform.secret_value() == "s1"


def test_only_the_settings_module_reads_the_environment():
    readers = []
    for package in ("bot", "handlers", "storage"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "bot" / "config.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                name = (node.attr if isinstance(node, ast.Attribute)
                        else node.name if isinstance(node, ast.alias) else None)
                if name in ("environ", "getenv", "environb", "getenvb"):
                    readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert readers == [], "read settings through bot.config.Settings, not os.environ: " + ", ".join(readers)


# -- 2. half-configured platforms fail fast --------------------------------------------------------

@pytest.mark.parametrize(("given", "missing"), [
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
    ({"MICROSOFT_APP_ID": "c0ffee00-1111-2222-3333-444455556666"}, "MICROSOFT_APP_PASSWORD"),
])
def test_a_half_configured_platform_stops_serve_with_one_line(tmp_path, db_url, given, missing):
    done = npsbot("serve", "--port", str(free_port()), cwd=tmp_path, env=clean_env(DATABASE_URL=db_url, **given))
    assert done.returncode != 0
    line = one_line(done.stderr)
    assert f"{missing} is not" in line and next(iter(given)) in line


def test_half_configured_in_dotenv_stops_serve_too(tmp_path, db_url):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-1\n")
    done = npsbot("serve", "--port", str(free_port()), cwd=tmp_path, env=clean_env(DATABASE_URL=db_url))
    assert done.returncode != 0 and "SLACK_SIGNING_SECRET" in one_line(done.stderr)


def test_every_startup_rule_names_real_settings():
    for when, needs, commands in STARTUP_RULES:
        assert env_name(when) and env_name(needs) and commands <= {"serve", "socket"}


# -- 3. every variable is documented -------------------------------------------------------------

def test_env_example_and_readme_list_every_variable_settings_reads():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    readme = (ROOT / "README.md").read_text()
    table = "\n".join(line for line in readme.splitlines() if line.startswith("|"))
    in_table = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    names = variable_names()
    assert "NPSBOT_TYPEFORM_SECRET" in names and "NPSBOT_QUALTRICS_API_TOKEN" in names
    assert [n for n in names if n not in listed] == [], ".env.example misses these"
    assert [n for n in names if n not in in_table] == [], "the README configuration table misses these"


# -- 12. one line, not a traceback -------------------------------------------------------------

@pytest.mark.parametrize(("url", "says"), [
    ("mysql://npsbot@127.0.0.1/npsbot", "mysql://… is not supported"),
    ("postgress://npsbot@127.0.0.1/npsbot", "postgress://… is not supported"),
    ("postgresql://npsbot@127.0.0.1:1/npsbot", "Cannot reach the database at 127.0.0.1:1/npsbot"),
])
def test_a_bad_database_url_is_one_line(tmp_path, url, says):
    done = npsbot("db", "upgrade", cwd=tmp_path, env=clean_env(DATABASE_URL=url))
    assert done.returncode != 0
    assert says in one_line(done.stderr)


def test_a_port_in_use_is_one_line(tmp_path, db_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = npsbot("serve", "--port", str(port), cwd=tmp_path, env=clean_env(DATABASE_URL=db_url))
    assert done.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{port}: it is already in use" in one_line(done.stderr)


def test_serve_says_where_it_listens_and_what_it_mounted(tmp_path, db_url):
    port = free_port()
    proc = subprocess.Popen([NPSBOT, "serve", "--port", str(port)], cwd=tmp_path,
                            env=clean_env(DATABASE_URL=db_url, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s",
                                          SLACK_API_URL="http://127.0.0.1:9/api/"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(proc, port)
        time.sleep(0.3)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    assert f"npsbot listening on http://127.0.0.1:{port} — Slack at /slack/events." in stderr
    assert "will be unused" not in stderr


def test_digest_for_an_unknown_channel_is_one_line(tmp_path, db_url):
    done = npsbot("digest", "--channel", "C123", cwd=tmp_path, env=clean_env(DATABASE_URL=db_url))
    assert done.returncode != 0
    assert "channel C123" in one_line(done.stderr)


# -- 16. teams-package -------------------------------------------------------------------------

def test_teams_package_refuses_an_app_id_that_is_not_a_guid(tmp_path):
    done = npsbot("teams-package", cwd=tmp_path, env=clean_env(MICROSOFT_APP_ID="my-bot"))
    assert done.returncode != 0
    assert "MICROSOFT_APP_ID 'my-bot' is not a GUID" in one_line(done.stderr)
    assert not (tmp_path / "npsbot-teams.zip").exists()


def test_teams_package_without_public_url_says_so_in_words(tmp_path):
    done = npsbot("teams-package", cwd=tmp_path,
                  env=clean_env(MICROSOFT_APP_ID="c0ffee00-1111-2222-3333-444455556666"))
    assert done.returncode == 0, done.stderr
    assert "NPSBOT_PUBLIC_URL is not set" in one_line(done.stderr)
    assert (tmp_path / "npsbot-teams.zip").exists()


def test_env_example_copied_to_dotenv_is_a_valid_configuration(tmp_path):
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    settings = Settings()
    assert settings.startup_problem("serve") is None
    assert settings.typeform.secret is None and settings.surveymonkey.api_url.startswith("https://")
