"""The `npsbot` command: serve, socket, shell, import, digest, db upgrade, teams-package."""

from __future__ import annotations

import asyncio
import gc
import getpass
import logging
import socket as socket_
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot import logs
from bot.cli_errors import explain
from bot.config import Settings

app = typer.Typer(help="npsbot: NPS responses in, follow-ups out, in Slack, Teams or a terminal.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True, soft_wrap=True)  # one failure, one line: never wrapped
# The settings the running command uses, so a failure can name its DATABASE_URL (see main()).
_active: dict[str, object] = {}


def _settings(**overrides) -> Settings:
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for e in exc.errors():
            name = e.get("loc", ("?",))[0]
            message = e["msg"].removeprefix("Value error, ")
            err.print(f"[red]Configuration error:[/] {name}: {message}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    _active["settings"] = settings
    return settings


def _refuse_half_configured(settings: Settings, command: str) -> None:
    problem = settings.startup_problem(command)
    if problem:
        err.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)


def _services(settings: Settings):
    from bot.app import build_runtime, build_services

    return build_services(build_runtime(settings))


# Seconds a thread may hold the GIL before another may take it. Python's default (5 ms) lets a
# worker thread rendering a reply hold off the event loop, which answers Slack's acks, several
# times per request; 1 ms keeps acks close to a bare Bolt app under a burst (bench/slack_ack.py:
# Claim-click ack p99 ratio to bare Bolt 2.0 with it, 3.4 without, on the loaded 2-core machine).
GIL_SWITCH_INTERVAL = 0.001


def _freeze_startup_objects() -> None:
    """Tune the long-running process for fast acknowledgements, once startup is done.

    What startup built (SDKs, SQLAlchemy, migrations) lives as long as the process; left in the
    collected generations it makes every full collection long enough to stall Slack
    acknowledgements (p99 ≈ 100 ms instead of ≈ 20 ms in bench/slack_ack.py), so it is frozen out
    of the collector's sight. The GIL is handed back to the event loop sooner (process-wide; only
    ever lowered).
    """
    gc.collect()
    gc.freeze()
    if sys.getswitchinterval() > GIL_SWITCH_INTERVAL:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 3000, or $PORT).")] = None,
) -> None:
    """Run the HTTP server: webhooks, Slack, Teams, health, metrics, delivery and the scheduler."""
    from aiohttp import web

    from bot.app import build_app

    settings = _settings()
    _refuse_half_configured(settings, "serve")
    host, port = host or settings.host, port or settings.port
    _active["listen"] = f"{host}:{port}"
    # Take the port first: when it is in use, nothing else (migrations, scheduler) has started.
    sock = socket_.create_server((host, port), family=socket_.AF_INET6 if ":" in host else socket_.AF_INET)
    logs.configure()
    services = _services(settings)
    mounted = [name for name, on in (("slack", settings.slack_enabled), ("teams", settings.teams_enabled)) if on]
    app_ = build_app(services)
    _freeze_startup_objects()

    def started(_: str) -> None:
        # run_app calls this once the socket is bound, so neither line claims a port it lost.
        logging.getLogger("npsbot").info("serve.start", extra={"platforms": ",".join(mounted) or "none",
                                                               "listen": f"{host}:{port}"})
        err.print(_listening_line(host, port, mounted), markup=False, highlight=False)

    web.run_app(app_, sock=sock, access_log=None, print=started)


def _listening_line(host: str, port: int, mounted: list[str]) -> str:
    routes = {"slack": "Slack at /slack/events", "teams": "Teams at /api/messages"}
    platforms = ", ".join(routes[m] for m in mounted) or "no chat platform (webhooks and health only)"
    return f"npsbot listening on http://{host}:{port} — {platforms}."


@app.command()
def socket() -> None:
    """Run Slack over Socket Mode (no public URL needed), with delivery and the scheduler."""
    settings = _settings()
    if not (settings.slack_app_token and settings.slack_bot_token):
        err.print("Socket Mode needs SLACK_APP_TOKEN (xapp-…) and SLACK_BOT_TOKEN (xoxb-…).")
        raise typer.Exit(2)
    _refuse_half_configured(settings, "socket")
    logs.configure()
    from bot.theme_model import load_model
    from handlers.slack.socket import run_socket

    services = _services(settings)
    load_model()  # once, at start (digests embed comments), as `serve` does in build_app
    _freeze_startup_objects()
    asyncio.run(run_socket(services, run_workers=True))


@app.command()
def shell(
    demo: Annotated[bool, typer.Option("--demo", help="Load a realistic sample into npsbot-demo.db first.")] = False,
    user: Annotated[str | None, typer.Option("--as", help="Who you are (default: your login name).")] = None,
    channel: Annotated[str, typer.Option(help="The channel you type in.")] = "#cx",
) -> None:
    """Type chat commands as a staff member; alerts and digests print here. No chat platform needed."""
    from bot.actors import Actor, Place
    from bot.app import build_runtime, build_services
    from handlers.shell import run_shell

    overrides = {"DATABASE_URL": "sqlite:///npsbot-demo.db"} if demo else {}
    settings = _settings(**overrides)
    logs.configure("WARNING")
    rt = build_runtime(settings)
    services = build_services(rt)
    who = user or _login()
    banner = "npsbot shell — type `help` for commands, `\\help` for shell commands, `\\q` to quit."
    if demo:
        from bot import channels
        from bot.demo import load_demo

        with console.status("Loading 12 weeks of sample responses…"):
            stored = load_demo(rt)
        place = Place("shell", channel)
        sub = channels.get(rt, place)
        if sub is None or not sub.alerts:
            channels.subscribe(rt, place, Actor("shell", who, who), segment=None, max_score=6)
        banner += (f"\nDemo data in npsbot-demo.db ({stored} new responses stored). {channel} is subscribed to"
                   " alerts. Try: `score`, `unclaimed`, `show 3`, `claim 3`, `close 3 recovered`, `\\react 5 eyes`,"
                   " `digest now`, `\\respond 2 customer=cus_007 Nobody answered my ticket`.")
    if sys.stdin.isatty():
        from handlers.shell_tty import run_terminal

        run_terminal(services, user=who, channel=channel, console=console, banner=banner)
    else:
        asyncio.run(run_shell(services, user=who, channel=channel, console=console, banner=banner))


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "me"


@app.command("import")
def import_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file.")],
    format: Annotated[str | None, typer.Option("--format", help="generic, delighted, surveymonkey, qualtrics, "
                                               "typeform or google-forms (detected when left out).")] = None,
) -> None:
    """Import responses from a CSV file; exit status 1 when any row was rejected."""
    from bot.runtime import build_runtime
    from handlers.connectors.csv_presets import FORMATS, detect, records_for

    if format is not None and format not in FORMATS:
        err.print(f"Unknown --format {format!r}; use one of: {', '.join(FORMATS)}.")
        raise typer.Exit(2)
    from bot.importfile import CsvFile

    # Streamed: the file is read, validated and stored chunk by chunk (memory stays flat).
    with CsvFile(file) as csv_file:
        try:
            fmt = format or detect(csv_file.text)
            settings = _settings()
            records, mapper = records_for(fmt, csv_file.text, settings)
            logs.configure("WARNING")
            rt = build_runtime(settings)
            from storage.db import for_bulk_load

            for_bulk_load(rt.engine)
            summary = _import_with_progress(rt, file, fmt, csv_file, records, mapper)
        except UnicodeDecodeError:
            err.print(f"{file} is not UTF-8 text; export the CSV as UTF-8. Rows before the bad bytes are "
                      "stored; importing the fixed file again stores the rest.")
            raise typer.Exit(2) from None
    table = Table(title=f"{file.name} ({fmt})", show_header=False)
    table.add_row("accepted", str(summary.accepted))
    table.add_row("duplicates", str(summary.duplicates))
    table.add_row("rejected", str(summary.rejected_count))
    table.add_row("follow-ups opened", str(summary.followups_opened))
    table.add_row("history (no follow-up)", str(summary.history))
    console.print(table)
    for rejected in summary.rejected:
        console.print(f"line {rejected.line}: {rejected.reason}", markup=False, highlight=False)
    if summary.rejected_unlisted:
        console.print(f"… and {summary.rejected_unlisted} more rejected rows", markup=False, highlight=False)
    raise typer.Exit(1 if summary.rejected_count else 0)


def _import_with_progress(rt, file: Path, fmt: str, csv_file, records, mapper):
    """Run the import under a progress bar: bytes of the file read, rows so far and rows/s."""
    import time

    from bot.csvimport import import_records

    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(),
               TextColumn("{task.fields[rows]:,} rows · {task.fields[rate]:,.0f} rows/s"), TimeRemainingColumn())
    started, rows = time.monotonic(), 0
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(f"Importing {file.name} ({fmt})", total=csv_file.size or 1, rows=0, rate=0.0)

        def advance(n: int, position: int | None = None) -> None:
            nonlocal rows
            rows += n
            rate = rows / max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=csv_file.bytes_read if position is None else position, rows=rows,
                            rate=rate)

        # Read, validate and prepare in a second process while this one stores, when there is a second core.
        from bot.importpipe import worth_it

        return import_records(rt, records, mapper=mapper, progress=advance, parallel=worth_it(),
                              position=lambda: csv_file.bytes_read, size=csv_file.size)


@app.command()
def digest(
    channel: Annotated[str | None, typer.Option(help="Channel id (default: every channel with a schedule).")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Print the digest instead of posting it.")] = False,
    chart: Annotated[Path | None, typer.Option("--chart", help="With --preview: also write the trend chart "
                                               "to this PNG file.", dir_okay=False)] = None,
) -> None:
    """Build a digest now and post it (or print it with --preview)."""
    from bot.app import build_app, build_runtime, build_services
    from bot.digest import enqueue_digests, preview_chart, preview_text

    if chart is not None and not preview:
        err.print("--chart goes with --preview (a posted digest carries its chart).")
        raise typer.Exit(2)
    logs.configure("WARNING")
    rt = build_runtime(_settings())
    if preview:
        console.print(preview_text(rt, channel), markup=False, highlight=False, emoji=False)
        if chart is not None:
            png = preview_chart(rt, channel)
            if png is None:
                err.print("No chart: there are no responses in the last 12 weeks.")
                raise typer.Exit(1)
            chart.write_bytes(png)
            err.print(f"Chart written to {chart.resolve()}", markup=False, highlight=False)
        return
    queued = enqueue_digests(rt, channel)
    if not queued:
        err.print("No channel to post to: pass --channel or schedule a digest with `/nps digest schedule`.")
        raise typer.Exit(1)
    services = build_services(rt)
    build_app(services, run_workers=False)  # mounts the configured platforms' notifiers
    if services.worker.notifiers:
        asyncio.run(services.worker.drain(timeout=120))
        console.print(f"Posted {queued} digest(s).")
    else:
        console.print(f"Queued {queued} digest(s); no chat platform is configured here, so a running "
                      "`npsbot serve` will deliver them.")


@app.command("teams-package")
def teams_package(
    out: Annotated[Path, typer.Option(help="Where to write the zip.")] = Path("npsbot-teams.zip"),
) -> None:
    """Write the Teams app package (manifest.json + icons) that an admin uploads."""
    from handlers.teams.package import FALLBACK_SITE, app_id_problem, write_package

    settings = _settings()
    problem = app_id_problem(settings.microsoft_app_id)
    if problem:
        err.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    if not settings.public_url:
        err.print(f"Note: NPSBOT_PUBLIC_URL is not set, so the package's website, privacy and terms links "
                  f"point to {FALLBACK_SITE}. Set it to where `npsbot serve` is reachable and run this again.",
                  markup=False, highlight=False)
    path = write_package(settings, out)
    console.print(f"Wrote {path}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply schema migrations to DATABASE_URL."""
    from storage.db import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    console.print("Database is up to date.")


forget_app = typer.Typer(help="Erase personal data on request.", no_args_is_help=True)
app.add_typer(forget_app, name="forget")


@forget_app.command("customer")
def forget_customer(
    customer_id: Annotated[str, typer.Argument(help="The customer's id as the survey tool sent it.")],
) -> None:
    """Delete a customer's responses and mask their follow-ups' text (numbers and states stay)."""
    from bot.actors import Actor
    from bot.app import build_runtime
    from bot.erasure import forget_customer as forget
    from bot.errors import NotFound

    logs.configure("WARNING")
    rt = build_runtime(_settings())
    actor = Actor("cli", getpass.getuser(), getpass.getuser())
    try:
        done = forget(rt, customer_id, actor)
    except NotFound as exc:
        err.print(exc.message)
        raise typer.Exit(1) from None
    numbers = ", ".join(f"#{n}" for n in done.followups) or "none"
    console.print(f"Forgot customer {customer_id}: {done.responses} response(s) deleted; "
                  f"follow-ups {numbers} kept with their text masked.", markup=False, highlight=False)


def main() -> None:
    try:
        app(prog_name="npsbot")
    except Exception as exc:  # known operator mistakes become one line, the rest re-raise
        settings = _active.get("settings")
        line = explain(exc, database_url=settings.database_url if isinstance(settings, Settings) else "",
                       listen=str(_active.get("listen", "")))
        if line is None:
            raise
        err.print(line, markup=False, highlight=False)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
