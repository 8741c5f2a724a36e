"""The shell shows bidi overrides and zero-width characters as their code, like control characters
(tests/slack/test_slack_rendering.py and tests/teams/test_teams_rendering.py cover the other doors)."""

from tests.test_shell import run_shell

SPOOF = "invoice\u202egnp.exe\u200b"


def test_the_shell_shows_bidi_and_zero_width_as_codes(tmp_path):
    result = run_shell(tmp_path, f"subscribe alerts\n\\respond 1 {SPOOF}\n")
    assert "\u202e" not in result.stdout and "invoice\\u202egnp.exe\\u200b" in result.stdout
