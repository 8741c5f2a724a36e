"""One script, three doors: the same commands typed in Slack (signed `/nps` requests), Teams
(message activities in a personal chat) and the shell (a subprocess) get the same answers.

Like zulip_bots' shared bot tests, the script is data: each step is what a person types and what
the answer must say, whatever the platform draws around it. A door that words something its own
way, or skips a step, fails here.
"""

import json
import os
import subprocess
import sys

from tests.slack.conftest import fake_slack, slack, slack_env  # noqa: F401 - the Slack door's fixtures
from tests.teams.conftest import PERSONAL, connector, settings, teams  # noqa: F401 - the Teams door's fixtures

# An hour before the tests' fixed clock (tests/conftest.py NOW), so `score 30d` counts it.
RESPONSE = {"id": "resp-1", "score": 2, "comment": "Support never answered", "submitted_at": "2026-11-20T11:00:00Z",
            "customer": {"id": "cus_1", "segment": "renewal", "arr": 48000}}

SCRIPT = [
    ("claim 1", "You claimed #1."),
    ("note 1 called them", "Note added to #1."),
    ("assign 1 li", "#1 is now li's."),
    ("close 1 recovered", "#1 closed as recovered."),
    ("reopen 1", "#1 is open again."),
    ("claim 1", "#1 is already claimed by li."),
    ("open", "Follow-ups not closed (1)"),
    ("open", "Support never answered"),
    ("mine", "You have no follow-ups."),
    ("unclaimed", "No unclaimed follow-ups."),
    # Teams draws the score as a card, the others as text: the same facts either way.
    ("score 30d", ("-100", "insufficient data: 1 response, 30 needed",
                   "1 response · 0 promoters · 0 passives · 1 detractor")),
    ("close 9", "There is no follow-up #9."),
    ("frobnicate", "I don't know the command `frobnicate`."),
]


def assert_script(answers: list[str]) -> None:
    assert len(answers) == len(SCRIPT)
    for (typed, expected), answer in zip(SCRIPT, answers, strict=True):
        for fact in (expected,) if isinstance(expected, str) else expected:
            assert fact.lower() in answer.lower(), f"{typed!r} answered {answer!r}"


async def test_slack_answers_the_script(slack):  # noqa: F811 - the fixture imported above
    await slack.ingest(RESPONSE)
    answers = []
    for typed, _ in SCRIPT:
        resp, key = await slack.command(typed, user_id="U0MARIA", user_name="maria")
        assert resp.status == 200
        body = await resp.text()
        if body:  # help and refusals to parse are in the acknowledgement itself
            answers.append(json.loads(body)["text"])
        else:
            [reply] = await slack.fake.wait_response(key)
            answers.append(reply["text"])
    # Slack escapes `&`, `<`, `>` and shows apostrophes as they are: nothing to undo for this script.
    assert_script(answers)


async def test_teams_answers_the_script(teams):  # noqa: F811 - the fixture imported above
    resp = await teams.client.post("/webhooks/responses", json=[RESPONSE],
                                   headers={"Authorization": "Bearer test-token"})
    assert resp.status == 202
    answers = []
    for typed, _ in SCRIPT:
        teams.connector.clear()
        await teams.post("message_personal", COMMAND=typed)
        [reply] = teams.connector.replies(PERSONAL)
        answers.append(json.dumps(reply.body, ensure_ascii=False))
    assert_script(answers)


def test_the_shell_answers_the_script(tmp_path):
    respond = "\\respond 2 customer=cus_1 segment=renewal arr=48000 Support never answered"
    lines = "\n".join([respond, *(typed for typed, _ in SCRIPT), "\\q"]) + "\n"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'shell.db'}", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "shell", "--as", "maria"], input=lines, text=True,
                            capture_output=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    # Each answer is what the shell printed between one prompt and the next.
    answers = result.stdout.split("maria@#cx> ")[2:-1]
    assert_script(answers)
