"""The terminal front door: chat commands typed as a staff member, alerts printed as they arrive.

Lines are the same chat commands as Slack's `/nps …` (the `/nps` prefix is optional). Lines
starting with a backslash are the shell's own:

    \\as NAME           act as another staff member
    \\in CHANNEL        move to another channel (subscriptions are per channel)
    \\respond SCORE [customer=ID] [segment=S] [arr=N] [comment words…]
                        simulate a survey response arriving (as the webhook would)
    \\react N eyes      react to alert #N (eyes claims, white_check_mark closes)
    \\home              what the Slack App Home would show you
    \\help              this list;   \\q  quit

Customer text is printed literally (no markup, control characters neutralised).
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
import uuid
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from bot.actors import Actor, Place
from bot.background import Background
from bot.commands import reaction_command
from bot.ingest import ingest, validate_item
from bot.runtime import Services
from bot.textview import alert_text, reply_text, safe
from bot.views import AlertView, HelpView

PLATFORM = "shell"
SHELL_HELP = __doc__.split("\n\n", 1)[1].split("\nCustomer text")[0]


class ShellNotifier:
    """Prints what a chat platform would show; also the outbound fake that tests read."""

    platform = PLATFORM
    post_interval = 0.0

    def __init__(self, console: Console) -> None:
        self.console = console
        self.transcript: list[tuple[str, str, str]] = []
        self._counter = 0

    def _print(self, renderable) -> None:
        self.console.print(renderable, markup=False, highlight=False, emoji=False)

    async def post_alert(self, channel_id: str, alert: AlertView) -> str:
        self._counter += 1
        ref = f"m{self._counter}-{uuid.uuid4().hex[:6]}"
        self.transcript.append(("alert", channel_id, alert_text(alert)))
        self._print(Panel(Text(alert_text(alert)), title=f"🔔 new detractor in {safe(channel_id)}",
                          title_align="left", border_style="red"))
        return ref

    async def update_alert(self, channel_id: str, message_ref: str, alert: AlertView) -> None:
        from bot.textview import status_line

        self.transcript.append(("update", channel_id, alert_text(alert)))
        self._print(Text(f"↻ alert #{alert.number} in {safe(channel_id)} now shows: {status_line(alert)}",
                         style="dim"))

    async def post_summary(self, channel_id: str, summary) -> str:
        from bot.storms import summary_text

        self._counter += 1
        self.transcript.append(("summary", channel_id, summary_text(summary)))
        self._print(Panel(Text(safe(summary_text(summary))), title=f"🌪 alert storm in {safe(channel_id)}",
                          title_align="left", border_style="yellow"))
        return f"m{self._counter}-{uuid.uuid4().hex[:6]}"

    async def update_summary(self, channel_id: str, message_ref: str, summary) -> None:
        from bot.storms import summary_text

        self.transcript.append(("summary-update", channel_id, summary_text(summary)))
        self._print(Text(f"↻ storm summary in {safe(channel_id)} now lists {len(summary.alerts)} follow-ups",
                         style="dim"))

    async def post_thread(self, channel_id: str, message_ref: str, text: str) -> None:
        self.transcript.append(("thread", channel_id, text))
        self._print(Text(f"  ↳ {safe(text)}", style="dim"))

    async def post_text(self, channel_id: str, text: str) -> None:
        self.transcript.append(("text", channel_id, text))
        self._print(Text(f"✉ to {safe(channel_id)}: {safe(text)}"))

    async def post_digest(self, channel_id: str, digest) -> None:
        text = reply_text(digest)
        self.transcript.append(("digest", channel_id, text))
        self._print(Panel(Text(text), title=f"📊 digest for {safe(channel_id)}", title_align="left"))
        png = getattr(digest, "chart_png", None)
        if png:
            # A terminal cannot show the chart: write it beside the user and say where.
            path = Path(f"npsbot-digest-{re.sub(r'[^A-Za-z0-9_-]+', '', channel_id) or 'chart'}.png").resolve()
            path.write_bytes(png)
            self._print(Text(f"Chart written to {path}", style="dim"))


class Shell:
    """Reads lines, runs them through the dispatcher as the current person, prints replies."""

    def __init__(self, services: Services, console: Console, *, user: str, channel: str) -> None:
        self.services = services
        self.console = console
        self.actor = Actor(PLATFORM, user, user)
        self.place = Place(PLATFORM, channel)

    def say(self, text: str, style: str | None = None) -> None:
        # Everything printed may echo what someone typed or a customer wrote: neutralise control
        # characters so no escape sequence reaches the terminal.
        self.console.print(Text(safe(text), style=style or ""), markup=False, highlight=False, emoji=False)

    @property
    def prompt(self) -> str:
        return f"{self.actor.name}@{self.place.channel_id}> "

    async def run_line(self, line: str) -> bool:
        """Run one line; return False when the user asked to quit."""
        line = line.strip()
        if not line or line.startswith("#!"):
            return True
        if line.startswith("\\"):
            keep_going = await self._meta(line)
        else:
            reply = await asyncio.to_thread(self.services.dispatcher.handle_text, line, self.actor, self.place)
            if isinstance(reply, HelpView) and reply.error:
                # At a terminal a mistake gets one line; `help` prints the list when asked.
                self.say(f"⚠ {reply.error} (`help` lists the commands)", "yellow")
            else:
                self.say(reply_text(reply), None if getattr(reply, "ok", True) else "yellow")
            keep_going = True
        await self.services.worker.drain()
        return keep_going

    async def _meta(self, line: str) -> bool:
        word, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        match word:
            case "q" | "quit" | "exit":
                return False
            case "help" | "?":
                self.say(SHELL_HELP)
            case "as":
                if not rest:
                    self.say("Usage: \\as NAME", "yellow")
                else:
                    self.actor = Actor(PLATFORM, rest.lstrip("@"), rest.lstrip("@"))
                    self.say(f"You are now {self.actor.name}.")
            case "in":
                if not rest:
                    self.say("Usage: \\in CHANNEL", "yellow")
                else:
                    self.place = Place(PLATFORM, rest)
                    self.say(f"You are now in {rest}.")
            case "respond":
                await self._respond(rest)
            case "react":
                parts = rest.split()
                number = parts[0].lstrip("#") if parts else ""
                command = reaction_command(parts[1], int(number)) if len(parts) == 2 and number.isdigit() else None
                if command is None:
                    self.say("Usage: \\react N eyes|white_check_mark", "yellow")
                else:
                    reply = await asyncio.to_thread(self.services.dispatcher.handle, command, self.actor, self.place)
                    self.say(reply_text(reply))
            case "home":
                view = await asyncio.to_thread(self.services.dispatcher.home, self.actor)
                self.say(reply_text(view))
            case _:
                self.say(f"Unknown shell command \\{word}. \\help lists them.", "yellow")
        return True

    async def _respond(self, rest: str) -> None:
        try:
            tokens = shlex.split(rest)
        except ValueError:
            tokens = rest.split()
        if not tokens:
            self.say("Usage: \\respond SCORE [customer=ID] [segment=S] [arr=N] [comment words…]", "yellow")
            return
        item: dict = {"id": f"shell-{uuid.uuid4().hex[:10]}", "source": "shell",
                      "score": int(tokens[0]) if tokens[0].lstrip("-").isdigit() else tokens[0]}
        customer: dict = {}
        words = []
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if sep and key in ("customer", "segment", "arr", "name", "owner", "email"):
                field = "id" if key == "customer" else key
                customer[field] = float(value) if key == "arr" and value.replace(".", "", 1).isdigit() else value
            else:
                words.append(token)
        if customer:
            item["customer"] = customer
        if words:
            item["comment"] = " ".join(words)
        valid, errors = validate_item(item)
        if errors or valid is None:
            self.say("⚠ " + "; ".join(f"{e.field} {e.message}" for e in errors), "yellow")
            return
        result = await asyncio.to_thread(ingest, self.services.rt, [valid])
        opened = f" → follow-up #{result.opened[0]} opened" if result.opened else ""
        joined = f" → added to open follow-up #{result.joined[0]}" if result.joined else ""
        self.say(f"Response stored (score {valid.score}){opened}{joined}.")


async def run_shell(services: Services, *, user: str, channel: str, stdin: TextIO | None = None,
                    console: Console | None = None, banner: str | None = None) -> None:
    """Run the shell until end of input or `\\q`.

    Interactive terminals get a background delivery worker, so alerts from responses that other
    processes store (e.g. `npsbot serve` on the same database) print as they arrive.
    """
    stdin = stdin or sys.stdin
    console = console or Console()
    notifier = ShellNotifier(console)
    services.worker.notifiers[PLATFORM] = notifier
    shell = Shell(services, console, user=user, channel=channel)
    interactive = stdin.isatty()
    background = Background(services, deliver=interactive, schedule=False)
    await background.start()
    if banner:
        shell.say(banner)
    try:
        while True:
            if interactive:
                line = await asyncio.to_thread(console.input, shell.prompt)
            else:
                line = await asyncio.to_thread(stdin.readline)
                if line == "":
                    break
                shell.say(shell.prompt + line.rstrip("\n"), "bold")
            if not await shell.run_line(line):
                break
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        await services.worker.drain()
        await background.stop()
