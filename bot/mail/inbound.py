"""Customer replies: parse one raw RFC 822 message, find its follow-up, keep only the new text.

Matching: `In-Reply-To` / `References` against the Message-IDs npsbot sent, else `[#N]` in the
subject. Quoted history and signatures are cut with `mail-parser-reply`; HTML-only mail is turned
into text with `html2text`. Auto-replies (RFC 3834 `Auto-Submitted`, `X-Autoreply`, out-of-office
subjects) are kept in the trail but never shown as replies. Mail that matches nothing is stored
with its raw bytes and counted: never dropped. The same message arriving twice (webhook and IMAP,
or an IMAP re-poll) is stored once.

Hostile mail is bounded: the raw size (checked by the doors), the number of MIME parts and their
nesting depth are capped, and decoded text is truncated, so a MIME bomb costs little.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses
from functools import lru_cache

import html2text
from mailparser_reply import EmailReplyParser
from prometheus_client import Counter
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bot import metrics, outbox
from bot.queries import mask_email
from bot.runtime import Runtime
from storage.db import session_scope
from storage.models import Customer, Event, FollowUp, MailMessage, Status

log = logging.getLogger(__name__)

MAX_RAW = 10 * 1024 * 1024
MAX_PARTS = 200
MAX_DEPTH = 10
MAX_MULTIPARTS = 25  # multipart containers declared anywhere in the message (nesting costs the parser)
MAX_TEXT = 200_000  # decoded characters looked at
MAX_SHOWN = 3_000  # characters of a reply shown in a thread line and stored
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl"]
DM_PLATFORMS = frozenset({"slack", "teams", "shell"})

MAIL_IN = Counter("npsbot_mail_received_total", "Customer e-mails received, by outcome.", ["outcome"],
                  registry=metrics.REGISTRY)

_MSGID = re.compile(r"<[^<>\s]{1,290}>")
_SUBJECT_NUMBER = re.compile(r"\[#(\d{1,9})\]")
_OOO = re.compile(r"^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|abwesenheit|absence|"
                  r"autosvar|vacation|away from)", re.IGNORECASE)


@dataclass(frozen=True)
class Received:
    """What happened to one message: matched, late (follow-up closed), auto, unmatched, duplicate."""

    outcome: str
    followup_id: int | None = None


@dataclass(frozen=True)
class Parsed:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    refs: list[str]
    text: str
    auto: bool
    problem: str | None = None  # why the body could not be read (too many parts, too deep, …)


def _decode(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, ValueError):
        # Unknown or lying charset: decode bytes leniently rather than lose the reply.
        raw = part.get_payload(decode=True) or b""
        return raw.decode("utf-8", errors="replace")


def _body(msg: EmailMessage) -> tuple[str, str | None]:
    """The message's readable text (plain preferred, else HTML as text) and a problem, if any."""
    plain: str | None = None
    html: str | None = None
    count = 0
    stack: list[tuple[EmailMessage, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > MAX_PARTS:
            return plain or "", f"more than {MAX_PARTS} MIME parts"
        if depth > MAX_DEPTH:
            return plain or "", f"MIME parts nested deeper than {MAX_DEPTH}"
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((c, depth + 1) for c in reversed(children))
            continue
        if part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = _decode(part)[:MAX_TEXT]
        elif ctype == "text/html" and html is None:
            html = _decode(part)[:MAX_TEXT]
    if plain and plain.strip():
        return plain, None
    if html:
        converter = html2text.HTML2Text()
        converter.ignore_images = True
        converter.ignore_links = True
        converter.body_width = 0
        return converter.handle(html), None
    return "", None


@lru_cache(maxsize=1)
def _reply_parser() -> EmailReplyParser:
    return EmailReplyParser(languages=REPLY_LANGUAGES)


def strip_quotes(text: str) -> str:
    """The new part of a reply: quoted history and signature removed."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return ""
    try:
        mail = _reply_parser().read(text=text)
        reply = mail.replies[0] if mail.replies else None
        cleaned = (reply.body or reply.content).strip() if reply else text
    except Exception:  # a parser bug must not lose a customer's reply
        log.warning("mail.strip_failed")
        cleaned = text
    # Belt and braces: drop any `>` quoted lines the parser left and the `-- ` signature.
    lines = []
    for line in cleaned.split("\n"):
        if line.rstrip() == "--":
            break
        if not line.lstrip().startswith(">"):
            lines.append(line)
    return "\n".join(lines).strip() or text[:MAX_SHOWN]


def is_auto_reply(msg: EmailMessage) -> bool:
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Auto-Response-Suppress", "").lower() == "all":
        return True
    if str(msg.get("Precedence", "")).strip().lower() in ("auto_reply", "bulk", "junk", "list"):
        return True
    return bool(_OOO.match(str(msg.get("Subject", ""))))


def parse(raw: bytes) -> Parsed:
    """Read the headers and body of a raw message; never raises on hostile input."""
    fallback_id = f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@npsbot.invalid>"
    # Deep MIME nesting makes the standard parser rescan the message once per level (a 60-deep
    # bomb of 64 kB took 0.7 s): count the containers in the raw bytes first, and read only the
    # headers of a message that declares too many.
    lowered = raw.lower()
    bomb = (lowered.count(b"multipart/") > MAX_MULTIPARTS and "more than "
            f"{MAX_MULTIPARTS} multipart containers") or (
        lowered.count(b"content-type:") > MAX_PARTS and f"more than {MAX_PARTS} MIME parts")
    try:
        parser = BytesHeaderParser if bomb else BytesParser
        msg = parser(policy=policy.default).parsebytes(raw)
    except (RecursionError, ValueError, TypeError, IndexError) as exc:
        return Parsed(fallback_id, "", "", "", [], "", False, problem=f"unreadable message ({type(exc).__name__})")

    def header(name: str) -> str:
        try:
            return str(msg.get(name, "") or "")
        except (ValueError, TypeError, IndexError, AttributeError):
            return ""

    ids = _MSGID.findall(header("Message-ID"))
    message_id = ids[0] if ids else fallback_id
    refs = _MSGID.findall(header("In-Reply-To")) + list(reversed(_MSGID.findall(header("References"))))
    addresses = getaddresses([header("From")])
    name, sender = addresses[0] if addresses else ("", "")
    try:
        text, problem = ("", bomb) if bomb else _body(msg)
    except RecursionError:
        text, problem = "", f"MIME parts nested deeper than {MAX_DEPTH}"
    try:
        auto = is_auto_reply(msg)
    except (ValueError, TypeError):
        auto = False
    return Parsed(message_id, sender.strip().lower()[:320], name.strip()[:200], header("Subject")[:500], refs,
                  strip_quotes(text)[:MAX_SHOWN], auto, problem)


def _match(session, p: Parsed) -> int | None:
    if p.refs:
        found = session.execute(
            select(MailMessage.followup_id).where(
                MailMessage.direction == "out", MailMessage.message_id.in_(p.refs[:50]),
                MailMessage.followup_id.is_not(None))
            .order_by(MailMessage.id.desc()).limit(1)
        ).scalar_one_or_none()
        if found:
            return found
    number = _SUBJECT_NUMBER.search(p.subject)
    if number and session.get(FollowUp, int(number.group(1))) is not None:
        return int(number.group(1))
    return None


def receive(rt: Runtime, raw: bytes) -> Received:
    """Store one incoming e-mail and show it where it belongs; idempotent by Message-ID."""
    p = parse(raw)
    now = rt.clock.now()
    try:
        with session_scope(rt.engine) as session:
            number = None if p.problem else _match(session, p)
            kind = "unmatched" if number is None else ("auto" if p.auto else "reply")
            session.execute(insert(MailMessage).values(
                direction="in", kind=kind, message_id=p.message_id, followup_id=number, address=p.sender or None,
                subject=p.subject or None, body=p.text or None, raw=raw if number is None else None, at=now))
            if number is None:
                outcome = "unmatched"
            elif p.auto:
                outcome = "auto"
                session.execute(insert(Event).values(
                    followup_id=number, at=now, actor_id=f"email:{p.sender}", actor_name="auto-reply",
                    action="auto-reply", text=p.subject or None))
            else:
                outcome = _show_reply(rt, session, number, p, now)
    except IntegrityError:
        MAIL_IN.labels("duplicate").inc()
        log.info("mail.duplicate", extra={"message_id": p.message_id[:100]})
        return Received("duplicate")
    MAIL_IN.labels(outcome).inc()
    log.info("mail.received", extra={"outcome": outcome, "followup": number, "problem": p.problem})
    if outcome in ("matched", "late"):
        rt.wake()
    return Received(outcome, number)


def _show_reply(rt: Runtime, session, number: int, p: Parsed, now) -> str:
    fu = session.get(FollowUp, number)
    customer = session.get(Customer, fu.customer_id) if fu.customer_id else None
    who = (customer.name or customer.external_id) if customer else (p.sender_name or "the customer")
    if customer is None or (customer.email or "").strip().lower() != p.sender:
        # Someone other than the customer on file answered (a colleague, a forwarded thread).
        who = f"{who} (from {mask_email(p.sender, rt.settings.show_emails) or 'unknown sender'})"
    text = p.text or "(no text)"
    late = fu.status == Status.CLOSED
    session.execute(insert(Event).values(
        followup_id=number, at=now, actor_id=f"email:{p.sender}", actor_name=who[:200],
        action="late e-mail reply" if late else "e-mail reply", text=text))
    line = f"✉ {'Late reply (after close)' if late else 'Reply'} from {who}: {text}"
    outbox.refresh_alert(session, number, now=now, thread_text=line)
    platform, _, user_id = (fu.claimant_id or "").partition(":")
    if late and platform in DM_PLATFORMS and user_id:
        outbox.add(session, [outbox.row(
            platform=platform, channel_id=user_id, kind=outbox.TEXT, now=now, followup_id=number,
            payload={"text": f"✉ #{number} is closed, but its customer wrote back: {text}"})])
    return "late" if late else "matched"
