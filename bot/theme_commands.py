"""The theme commands' grammar: `theme N NAME`, `themes`, `themes add NAME [description]`, `cause=`.

Theme names hold spaces ("Price & billing"), so a name runs to the end of the line (quotes
optional) and `cause=` takes a quoted name or one word, which may be the start of a name.
"""

from __future__ import annotations

import re

from bot.errors import CommandError

# `cause=word`, `cause="two words"` or `cause='two words'`, anywhere after the number.
_CAUSE = re.compile(r"""(?:^|\s)cause=(?:"([^"]*)"|'([^']*)'|“([^”]*)”|(\S+))""")


def take_cause(rest: str) -> tuple[str | None, str]:
    """Pull `cause=…` out of a `close` command's arguments: (cause, the rest without it)."""
    match = _CAUSE.search(rest)
    if match is None:
        return None, rest
    cause = next(g for g in match.groups() if g is not None).strip()
    if not cause:
        raise CommandError("`cause=` needs a theme, e.g. `close 12 resolved cause=Support`.")
    return cause, (rest[:match.start()] + " " + rest[match.end():]).strip()


def parse_theme_command(word: str, rest: str):
    from bot.commands import Command, Verb, _number

    if word == "themes":
        head, _, tail = rest.partition(" ")
        if not rest:
            return Command(Verb.THEMES)
        if head.lower() != "add":
            raise CommandError("`themes` takes no arguments, or `themes add NAME [description]`.")
        tail = tail.strip()
        if not tail:
            raise CommandError('`themes add` needs a name, e.g. `themes add "Invoices" Invoices are wrong`.')
        match = re.match(r"""^(?:"([^"]+)"|'([^']+)'|(\S+))\s*(.*)$""", tail, re.S)
        assert match is not None  # `tail` is stripped and non-empty, so `(\S+)` at least matches
        name = next(g for g in match.groups()[:3] if g is not None)
        return Command(Verb.THEMES_ADD, text=name.strip(), extra={"description": match.group(4).strip()})
    parts = rest.split(None, 1)
    number = _number(parts[0] if parts else None, "theme")
    name = parts[1].strip() if len(parts) > 1 else ""
    if not name:
        raise CommandError("`theme` needs a number and a theme, e.g. `theme 12 Support` (or `theme 12 none`).")
    return Command(Verb.THEME, number=number, text=name)
