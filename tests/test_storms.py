"""Storm control in the shell: a burst prints NPSBOT_ALERT_BURST alerts and one summary."""

from sqlalchemy import select

from storage.db import make_engine, read_scope
from storage.models import FollowUp
from tests.test_shell import run_shell


def test_the_shell_shows_the_burst_and_one_summary_and_each_follow_up_stays_reachable(tmp_path):
    lines = ["subscribe alerts"]
    lines += [f"\\respond 2 customer=cus_{n} Problem number {n}" for n in range(14)]
    lines += ["claim 13", "show 13", "\\q"]
    result = run_shell(tmp_path, "\n".join(lines) + "\n", "--as", "maria")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert out.count("new detractor in #cx") == 10 and out.count("alert storm in #cx") == 1
    assert "#11 · score 2 · cus_10 · “Problem number 10” · open" in out
    assert "You claimed #13." in out and "#13 · 🔴 2/10 detractor · Claimed by maria" in out
    with read_scope(make_engine(f"sqlite:///{tmp_path / 'shell.db'}")) as s:
        assert len(s.execute(select(FollowUp.id)).all()) == 14
