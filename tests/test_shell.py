"""`npsbot shell` driven through standard input, as a person or a script would."""

import os
import subprocess
import sys


def run_shell(tmp_path, lines: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'shell.db'}", "COLUMNS": "200",
                **(env or {})}
    return subprocess.run([sys.executable, "-m", "bot.cli", "shell", *args], input=lines, text=True,
                          capture_output=True, cwd=tmp_path, env=full_env, timeout=120)


def test_the_whole_follow_up_loop_in_a_terminal(tmp_path):
    script = "\n".join([
        "subscribe alerts",
        "\\respond 2 customer=cus_1 segment=renewal arr=48000 Support never answered my ticket",
        "claim 1",
        "\\as li",
        "claim 1",
        "note 1 called, they want a discount",
        "close 1 recovered",
        "show 1",
        "\\q",
    ]) + "\n"
    result = run_shell(tmp_path, script, "--as", "maria")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "This channel now gets an alert" in out
    assert "new detractor in #cx" in out and "Support never answered my ticket" in out
    assert "You claimed #1." in out
    assert "#1 is already claimed by maria." in out
    assert "↳ li added a note: called, they want a discount" in out
    assert "#1 closed as recovered." in out
    assert "maria claimed" in out and "li closed: recovered" in out


def test_customer_text_is_printed_literally_and_cannot_drive_the_terminal(tmp_path):
    evil = "[bold red]boom[/] \x1b[2J <!channel>"
    result = run_shell(tmp_path, f"subscribe alerts\n\\respond 1 {evil}\n")
    assert "[bold red]boom[/]" in result.stdout and "<!channel>" in result.stdout
    assert "\x1b[2J" not in result.stdout


def test_a_mistake_names_itself_and_points_to_the_help(tmp_path):
    result = run_shell(tmp_path, "claim seven\n")
    assert "`seven` is not a follow-up number" in result.stdout
    assert "(`help` lists the commands)" in result.stdout


def test_demo_loads_a_realistic_sample_in_every_state(tmp_path):
    result = run_shell(tmp_path, "score 90d\nunclaimed\nopen\n", "--demo")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "560 new responses stored" in out
    assert "NPS last 90 days" in out and "Unclaimed follow-ups" in out and "Claimed by" in out
    again = run_shell(tmp_path, "", "--demo")
    assert "0 new responses stored" in again.stdout  # loading twice stores nothing twice


def test_routing_commands_in_a_terminal(tmp_path):
    script = "\n".join([
        "subscribe alerts min_arr=10000 tag.region=EMEA",
        "subscribe",
        "subscribe alerts min_arr=10000",
        "duty @maria @li",
        "escalate to #general after 24h",
        "\\respond 2 customer=cus_1 arr=48000 Support never answered my ticket",
        "snooze 1 3x",
        "snooze 1 3d",
        "show 1",
        "\\q",
    ]) + "\n"
    result = run_shell(tmp_path, script, "--as", "maria")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "from customers with ARR of at least 10,000, tagged region=EMEA." in out
    assert "On duty now: maria; next: li" in out
    assert "`#general` is not a channel I can post in" in out
    assert "`3x` is not a duration; use 30m, 24h or 3d" in out
    assert "#1 is snoozed until" in out
    assert "npsbot assigned by rotation: to maria" in out
