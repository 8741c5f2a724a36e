"""A new team's first run of `npsbot shell`: the README walkthrough verbatim, one-line hints, a real
terminal (line editing, Ctrl-C, Ctrl-D), small samples, the digest's chart, and earlier scores."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NPSBOT = str(Path(sys.executable).with_name("npsbot"))


def shell_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NPSBOT_", "SLACK_", "MICROSOFT_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'shell.db'}", COLUMNS="200")
    return env


def run_shell(tmp_path: Path, lines: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NPSBOT, "shell", *args], input=lines, text=True, capture_output=True, cwd=tmp_path,
                          env=shell_env(tmp_path), timeout=180)


def readme_walkthrough() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"A walkthrough to type in a fresh demo.*?```text\n(.*?)```", readme, re.S)
    assert block, "the README's demo walkthrough block is gone"
    return block.group(1).strip().splitlines()


# -- 11. the README walkthrough works verbatim -----------------------------------------------------

def test_the_readme_demo_walkthrough_works_verbatim(tmp_path):
    lines = readme_walkthrough()
    assert "show 3" in lines and "close 3 recovered" in lines
    result = run_shell(tmp_path, "\n".join(lines) + "\n", "--demo")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "⚠" not in out and "is closed" not in out, out
    assert "You claimed #3." in out
    assert "#3 closed as recovered." in out
    assert "You claimed #5." in out
    assert "📊 digest for #cx" in out
    assert "Response stored (score 2)" in out
    banner = out.split("\n", 3)[:3]
    assert any("show 3" in line and "react 5 eyes" in line for line in banner)


# -- 14. a mistake is one line --------------------------------------------------------------------

def test_a_mistake_is_a_one_line_hint_not_the_whole_help(tmp_path):
    out = run_shell(tmp_path, "claim seven\n").stdout
    assert "⚠ `seven` is not a follow-up number; use the number shown as #N. (`help` lists the commands)" in out
    assert "npsbot commands:" not in out
    assert "npsbot commands:" in run_shell(tmp_path, "help\n").stdout


# -- 14. a real terminal ------------------------------------------------------------------------------

class Terminal:
    """`npsbot shell` on a pseudo-terminal, typed at like a person would."""

    def __init__(self, tmp_path: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the shell
            os.chdir(tmp_path)
            os.execve(NPSBOT, [NPSBOT, "shell", "--as", "maria"], {**shell_env(tmp_path), "TERM": "xterm"})
        self.seen = ""
        self.status: int | None = None

    def read_until(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r}; the terminal shows:\n{self.seen}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096).decode(errors="replace")
                except OSError:
                    break
        return self.seen

    def type(self, keys: str) -> None:
        # As fast as a person, not faster: readline is still setting the terminal up for a moment
        # after its prompt shows, and a key in that moment waits for the next one.
        time.sleep(0.3)
        os.write(self.fd, keys.encode())

    def exited_within(self, seconds: float) -> int | None:
        deadline = time.monotonic() + seconds
        while True:
            if time.monotonic() >= deadline:
                return self.status
            if self.status is not None:
                return self.status
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            with_data, _, _ = select.select([self.fd], [], [], 0.05)
            if with_data:
                try:
                    self.seen += os.read(self.fd, 4096).decode(errors="replace")
                except OSError:
                    pass

    def close(self) -> None:
        if self.exited_within(0) is None:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_at_a_terminal_history_ctrl_c_and_ctrl_d_behave(tmp_path):
    term = Terminal(tmp_path)
    try:
        term.read_until("maria@#cx> ")
        term.type("subscribe alerts\r")
        term.read_until("every segment.\r\nmaria@#cx> ")
        # Up-arrow recalls the last line (readline history); Ctrl-C drops it and prompts again.
        shown = len(term.seen)
        term.type("\x1b[A")
        term.read_until("every segment.\r\nmaria@#cx> subscribe alerts", timeout=10)
        term.type("\x03")
        term.read_until("subscribe alerts\r\nmaria@#cx> ", timeout=10)
        assert len(term.seen) > shown
        assert term.exited_within(0.5) is None, "Ctrl-C on a typed line must not quit"
        # Ctrl-D at the prompt: a newline, and the shell is gone.
        term.type("\x04")
        assert term.exited_within(15) == 0
        assert term.seen.rstrip(" ").endswith(("\n", "\r\n"))
    finally:
        term.close()


def test_ctrl_c_at_an_empty_prompt_exits_at_once(tmp_path):
    term = Terminal(tmp_path)
    try:
        term.read_until("maria@#cx> ")
        term.type("\x03")
        assert term.exited_within(10) is not None, "Ctrl-C at an empty prompt should quit at once"
    finally:
        term.close()


# -- 9. small samples and wording -----------------------------------------------------------------

def test_one_answer_reads_as_one_response_without_a_zero_margin(tmp_path):
    out = run_shell(tmp_path, "\\respond 3 customer=cus_1 slow\nscore\nscore 14d\n").stdout
    assert "NPS last 30 days: -100 (insufficient data: 1 response, 30 needed)" in out
    assert "±0" not in out
    assert "1 response · 0 promoters · 0 passives · 1 detractor" in out
    assert "`score` does not understand `14d`; the period is one of 7d|30d|90d" in out


# -- 21. the digest's chart without a chat platform -----------------------------------------------

def test_digest_now_in_the_shell_says_where_it_wrote_the_chart(tmp_path):
    out = run_shell(tmp_path, "digest now\n", "--demo").stdout
    chart = tmp_path / "npsbot-digest-cx.png"
    assert f"Chart written to {chart}" in out.replace("\n", "")
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_digest_preview_writes_the_chart_to_a_file(tmp_path):
    run_shell(tmp_path, "", "--demo")  # sample data in npsbot-demo.db
    env = {**shell_env(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'npsbot-demo.db'}"}
    done = subprocess.run([NPSBOT, "digest", "--preview", "--chart", "trend.png"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "NPS" in done.stdout
    assert (tmp_path / "trend.png").read_bytes().startswith(b"\x89PNG")
    assert f"Chart written to {tmp_path / 'trend.png'}" in done.stderr.replace("\n", "")


# -- 8. earlier scores are earlier --------------------------------------------------------------

async def test_earlier_scores_never_list_later_answers(http, rt, db_url, tmp_path, monkeypatch):
    # Answers from September and October: widen the live window so that they open follow-ups.
    monkeypatch.setattr(rt.settings, "live_window_hours", 24 * 365)
    async def answer(rid: str, score: int, day: str) -> None:
        resp = await http.post("/webhooks/responses", json={
            "id": rid, "score": score, "submitted_at": f"2026-{day}T10:00:00Z", "customer": {"id": "cus_1"}},
            headers={"Authorization": "Bearer test-token"})
        assert resp.status == 202, await resp.text()

    await answer("r1", 3, "09-04")  # opens #1
    env = {**shell_env(tmp_path), "DATABASE_URL": db_url}

    def shell(lines: str) -> str:
        return subprocess.run([NPSBOT, "shell"], input=lines, text=True, capture_output=True, cwd=tmp_path,
                              env=env, timeout=120).stdout

    assert "#1 closed as resolved." in shell("close 1 resolved\n")
    await answer("r2", 5, "10-02")  # opens #2
    await answer("r3", 6, "10-23")  # joins #2
    out = shell("show 1\nshow 2\n")
    first, second = out.split("> show 2")
    assert "Earlier scores: none" in first and "5 (Oct 2)" not in first and "6 (Oct 23)" not in first
    assert "Earlier scores: 3 (Sep 4)" in second

