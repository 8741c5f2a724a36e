"""`email N text`: write to the customer of a follow-up, through the outbox.

The message (Message-ID included) is composed and stored in the same transaction as its outbox
row, the audit event and the alert re-render, so the e-mail is sent once the transaction commits,
retried while the mail server is away, and never sent twice under two Message-IDs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlmodel import Session

from bot import outbox
from bot.actors import Actor
from bot.errors import NotFound, NpsError
from bot.mail.compose import new_message_id, payload, render, valid_address
from bot.queries import alert_view
from bot.runtime import Runtime
from bot.views import AlertView
from storage.db import session_scope
from storage.models import Customer, Event, FollowUp, MailMessage, MailOptOut

MAIL_PLATFORM = "email"  # the outbox "platform" of e-mails; the channel is the recipient
EMAIL_KIND = "email"
MAX_TEXT = 10_000


def customer_address(session: Session, fu: FollowUp) -> tuple[Customer | None, str]:
    """The customer of a follow-up and why they cannot be e-mailed ("" when they can)."""
    customer = session.get(Customer, fu.customer_id) if fu.customer_id else None
    if customer is None or not valid_address(customer.email):
        return customer, f"#{fu.id}'s customer has no usable e-mail address, so I cannot write to them."
    opted_out = session.get(MailOptOut, customer.id)
    if opted_out is not None:
        return customer, (f"{customer.name or customer.external_id} unsubscribed from our e-mail on "
                          f"{opted_out.at:%Y-%m-%d}; contact them another way.")
    return customer, ""


def thread_ids(session: Session, number: int) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) for a new message in this follow-up's conversation."""
    rows = session.execute(
        select(MailMessage.message_id, MailMessage.direction).where(
            MailMessage.followup_id == number, MailMessage.kind.in_(("contact", "reply")))
        .order_by(MailMessage.at, MailMessage.id)
    ).all()
    replies = [mid for mid, direction in rows if direction == "in"]
    return (replies[-1] if replies else None), [mid for mid, _ in rows][-10:]


def queue_email(session: Session, *, now: datetime, number: int, to: str, kind: str, actor_name: str | None,
                mail: dict) -> None:
    """The outbox row and the Message-ID record of one outgoing e-mail, in the caller's transaction."""
    outbox.add(session, [outbox.row(platform=MAIL_PLATFORM, channel_id=to.lower(), kind=EMAIL_KIND, now=now,
                                    followup_id=number, payload=mail)])
    session.execute(insert(MailMessage).values(
        direction="out", kind=kind, message_id=mail["message_id"], followup_id=number, actor_name=actor_name,
        address=to, subject=mail["subject"][:500], body=mail["text"], at=now))


def email_customer(rt: Runtime, number: int, text: str, actor: Actor) -> AlertView:
    """E-mail the customer of #number as `actor`; refused (NpsError) with the reason when it can't be."""
    settings = rt.settings
    if not settings.mail_enabled or not settings.mail_from:
        raise NpsError("E-mail is off: set NPSBOT_SMTP_URL and NPSBOT_MAIL_FROM to write to customers.")
    text = (text or "").strip()
    if not text:
        raise NpsError(f"`email` needs the text to send, e.g. `email {number} Sorry about that ticket…`.")
    if len(text) > MAX_TEXT:
        raise NpsError(f"E-mails are limited to {MAX_TEXT:,} characters; this one has {len(text):,}.")
    now = rt.clock.now()
    with session_scope(rt.engine) as session:
        fu = session.get(FollowUp, number)
        if fu is None:
            raise NotFound(f"There is no follow-up #{number}.")
        customer, refusal = customer_address(session, fu)
        if refusal:
            raise NpsError(refusal)
        assert customer is not None and customer.email  # no refusal: customer_address found a usable address
        in_reply_to, references = thread_ids(session, number)
        subject = f"{'Re: ' if references else ''}Your feedback [#{number}]"
        greeting = f"Hello {customer.name}," if customer.name else "Hello,"
        plain, html = render(settings, "contact", greeting=greeting, text=text, sender=actor.name, number=number)
        mail = payload(settings, to=customer.email.strip(), subject=subject, text=plain, html=html,
                       message_id=new_message_id(settings), in_reply_to=in_reply_to, references=references)
        queue_email(session, now=now, number=number, to=customer.email.strip(), kind="contact",
                    actor_name=actor.name, mail=mail)
        session.execute(insert(Event).values(followup_id=number, at=now, actor_id=actor.key,
                                             actor_name=actor.name, action="emailed", text=text))
        outbox.refresh_alert(session, number, now=now, thread_text=f"✉ {actor.name} e-mailed the customer: {text}")
        session.flush()
        view = alert_view(session, number, settings=settings, now=now)
        assert view is not None  # the follow-up was read above in this session
    rt.wake()
    return view
