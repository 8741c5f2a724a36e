"""The e-mail loop through the command line and the shell (subprocesses), and its settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.config import Settings
from tests.mail.conftest import MAIL_FROM, SECRET
from tests.test_shell import run_shell


def serve(tmp_path, env: dict) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NPSBOT_")}
    full.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "PORT": "1"}, **env)
    return subprocess.run([sys.executable, "-m", "bot.cli", "serve"], capture_output=True, text=True,
                          cwd=tmp_path, env=full, timeout=60)


@pytest.mark.parametrize(("env", "missing"), [
    ({"NPSBOT_SMTP_URL": "smtp://127.0.0.1:2525", "NPSBOT_SECRET_KEY": SECRET}, "NPSBOT_MAIL_FROM"),
    ({"NPSBOT_SMTP_URL": "smtp://127.0.0.1:2525", "NPSBOT_MAIL_FROM": MAIL_FROM}, "NPSBOT_SECRET_KEY"),
    ({"NPSBOT_IMAP_URL": "imaps://u:p@imap.example/INBOX"}, "NPSBOT_SECRET_KEY"),
    ({"NPSBOT_SMTP_URL": "smtp://127.0.0.1:2525", "NPSBOT_MAIL_FROM": MAIL_FROM, "NPSBOT_SECRET_KEY": SECRET},
     "NPSBOT_PUBLIC_URL"),
    ({"NPSBOT_SMTP_URL": "mail.example:25", "NPSBOT_MAIL_FROM": MAIL_FROM, "NPSBOT_SECRET_KEY": SECRET,
      "NPSBOT_PUBLIC_URL": "https://nps.example"}, "smtp://"),
])
def test_a_half_configured_mail_setup_stops_serve_with_one_line(tmp_path, env, missing):
    result = serve(tmp_path, env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and missing in lines[0] and "Traceback" not in result.stderr


def test_a_complete_mail_setup_has_no_problems():
    settings = Settings(NPSBOT_SMTP_URL="smtps://u:p@smtp.example", NPSBOT_MAIL_FROM=MAIL_FROM,
                        NPSBOT_SECRET_KEY=SECRET, NPSBOT_PUBLIC_URL="https://nps.example")
    assert settings.mail_problems() == [] and settings.mail_enabled
    assert Settings(NPSBOT_SMTP_URL="smtp://h", NPSBOT_MAIL_FROM=MAIL_FROM, NPSBOT_SECRET_KEY=SECRET,
                    NPSBOT_RESURVEY_DAYS="0").mail_problems() == []  # re-surveys off: no public URL needed
    assert not Settings().mail_enabled


def test_email_in_the_shell_reaches_the_smtp_server(tmp_path, smtp):
    script = "\n".join([
        "subscribe alerts",
        "\\respond 2 customer=cus_1 name=Acme email=ops@acme.example Support never answered",
        "email 1 Sorry — I've reopened your ticket myself.",
        "show 1",
        "\\q",
    ]) + "\n"
    env = {"NPSBOT_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "NPSBOT_MAIL_FROM": MAIL_FROM,
           "NPSBOT_SECRET_KEY": SECRET, "NPSBOT_PUBLIC_URL": "http://127.0.0.1:3000"}
    result = run_shell(tmp_path, script, "--as", "maria", env=env)
    assert result.returncode == 0, result.stderr
    assert "E-mail to the customer of #1 queued." in result.stdout
    assert "↳ ✉ maria e-mailed the customer: Sorry — I've reopened your ticket myself." in result.stdout
    assert "✉ contacted" in result.stdout and "maria emailed: Sorry" in result.stdout
    [sent] = smtp.messages
    assert sent["To"] == "ops@acme.example" and "reopened your ticket" in sent.get_body(("plain",)).get_content()


def test_email_is_refused_in_the_shell_when_email_is_off(tmp_path):
    result = run_shell(tmp_path, "\\respond 2 customer=c email=a@b.example bad\nemail 1 hello\n")
    assert "⚠ E-mail is off: set NPSBOT_SMTP_URL and NPSBOT_MAIL_FROM" in result.stdout
