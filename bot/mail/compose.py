"""Composing outgoing e-mail: Jinja2 templates (autoescaped HTML + plain text) and headers.

The whole message is decided when it is queued, Message-ID included, so a retry sends the same
bytes and replies to it can be matched. `NPSBOT_MAIL_TEMPLATES` names a directory whose files
(`contact.txt`, `contact.html`, `resurvey.txt`, `resurvey.html`) replace the built-in ones.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from functools import lru_cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.config import Settings

BUILTIN = Path(__file__).parent / "templates"
# The editable text the Email customer forms start with (Slack modal, Teams card).
EMAIL_PREFILL = ("Thank you for your feedback, and I'm sorry we let you down. I'd like to understand "
                 "what happened and put it right: could you tell me a bit more, or suggest a good time "
                 "for a call?")


@lru_cache(maxsize=8)
def _environment(override_dir: str | None) -> Environment:
    loaders = [FileSystemLoader(override_dir)] if override_dir else []
    loaders.append(FileSystemLoader(str(BUILTIN)))
    return Environment(loader=ChoiceLoader(loaders), undefined=StrictUndefined,
                       autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                       keep_trailing_newline=True)


def render(settings: Settings, name: str, **context) -> tuple[str, str]:
    """(plain text, HTML) of template `name` (`contact` or `resurvey`)."""
    env = _environment(settings.mail_templates_dir)
    return env.get_template(f"{name}.txt").render(**context), env.get_template(f"{name}.html").render(**context)


def sender_domain(mail_from: str | None) -> str:
    addresses = getaddresses([mail_from or ""])
    address = addresses[0][1] if addresses else ""
    return address.rpartition("@")[2] or "npsbot.invalid"


def new_message_id(settings: Settings) -> str:
    return make_msgid(domain=sender_domain(settings.mail_from))


def payload(settings: Settings, *, to: str, subject: str, text: str, html: str, message_id: str,
            in_reply_to: str | None = None, references: list[str] | None = None,
            unsubscribe_url: str | None = None) -> dict:
    """The outbox payload of one e-mail: everything the sender needs, nothing to look up later."""
    return {"from": settings.mail_from, "to": to, "subject": subject, "text": text, "html": html,
            "message_id": message_id, "in_reply_to": in_reply_to, "references": references or [],
            "unsubscribe_url": unsubscribe_url}


def build_message(p: dict) -> EmailMessage:
    """The RFC 5322 message for an outbox payload (multipart/alternative: text, then HTML)."""
    msg = EmailMessage()
    msg["From"] = p["from"]
    msg["To"] = p["to"]
    msg["Subject"] = p["subject"]
    msg["Message-ID"] = p["message_id"]
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    # Mark our mail as automated-but-personal so auto-responders do not answer it in a loop.
    msg["Auto-Submitted"] = "auto-generated" if p.get("unsubscribe_url") else "no"
    if p.get("in_reply_to"):
        msg["In-Reply-To"] = p["in_reply_to"]
    if p.get("references"):
        msg["References"] = " ".join(p["references"])
    if p.get("unsubscribe_url"):
        msg["List-Unsubscribe"] = f"<{p['unsubscribe_url']}>"
    msg.set_content(p["text"])
    msg.add_alternative(p["html"], subtype="html")
    return msg


def valid_address(value: str | None) -> bool:
    if not value or "\n" in value or "\r" in value:
        return False
    try:
        local, _, domain = value.strip().rpartition("@")
        Address(addr_spec=value.strip())
        return bool(local and "." in domain)
    except (ValueError, IndexError):
        return False
