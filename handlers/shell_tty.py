"""`npsbot shell` at a terminal: line editing, history, Ctrl-C and Ctrl-D as a shell user expects.

Reading a line must happen on the main thread: that is where Python's `readline` edits it and
where Ctrl-C (SIGINT) arrives. So the event loop (the delivery worker printing alerts as they
arrive, and each command's run) lives in a daemon thread, and the main thread only reads lines:

* arrow keys edit the line and walk this session's history (GNU readline via `import readline`);
* Ctrl-C with something typed drops that line and gives a fresh prompt; Ctrl-C at an empty prompt
  or while a command runs exits at once;
* Ctrl-D at the prompt prints a newline (so the terminal's prompt starts on its own line) and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading

from rich.console import Console

from bot.runtime import Services

try:  # pragma: no cover - readline is missing on some platforms; input() still works without it
    import readline
except ImportError:  # pragma: no cover
    readline = None  # type: ignore[assignment]


def _typed() -> str:
    """What is on the input line right now (empty when readline is unavailable)."""
    return readline.get_line_buffer() if readline is not None else ""


def run_terminal(services: Services, *, user: str, channel: str, console: Console, banner: str | None) -> None:
    """Run the shell on a terminal until `\\q`, Ctrl-D, or Ctrl-C at an empty prompt."""
    from handlers.shell import PLATFORM, Shell, ShellNotifier

    loop = asyncio.new_event_loop()

    def run_loop() -> None:
        # Ctrl-C must reach the main thread, blocked in readline: the kernel gives a process signal
        # to any thread not blocking it, and here (and in every thread started from here) none may.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        loop.run_forever()

    thread = threading.Thread(target=run_loop, name="shell-loop", daemon=True)
    thread.start()
    services.worker.notifiers[PLATFORM] = ShellNotifier(console)
    shell = Shell(services, console, user=user, channel=channel)
    worker = asyncio.run_coroutine_threadsafe(services.worker.run(), loop)
    if banner:
        shell.say(banner)
    try:
        while True:
            try:
                line = input(shell.prompt)
            except KeyboardInterrupt:
                dropped = _typed()
                console.print()
                if dropped.strip():
                    continue  # the line is cancelled, the shell goes on
                break
            except EOFError:
                console.print()
                break
            try:
                if not asyncio.run_coroutine_threadsafe(shell.run_line(line), loop).result():
                    break
            except KeyboardInterrupt:
                console.print()
                break
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(services.worker.stop(), loop).result(timeout=5)
            worker.result(timeout=5)  # the worker's loop ends once it is stopping
        if not worker.done():
            worker.cancel()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
