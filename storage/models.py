"""SQLModel tables: the nouns of npsbot (customers, responses, follow-ups and their delivery)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utc_column(*, index: bool = False, nullable: bool = True) -> Column:
    return Column(DateTime(timezone=True), index=index, nullable=nullable)


class Category(StrEnum):
    DETRACTOR = "detractor"
    PASSIVE = "passive"
    PROMOTER = "promoter"


class Status(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


class Outcome(StrEnum):
    RESOLVED = "resolved"
    RECOVERED = "recovered"
    UNREACHABLE = "unreachable"
    CHURNED = "churned"
    NO_ACTION = "no-action"


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=200, unique=True)
    name: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=320)
    segment: str | None = Field(default=None, max_length=100)
    arr: float | None = None
    owner: str | None = Field(default=None, max_length=320)
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class Response(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_response_source_external_id"),
        # Also serves every query by time alone (a separate submitted_at index would only cost
        # each insert another B-tree).
        Index("ix_response_submitted_segment", "submitted_at", "segment"),
        Index("ix_response_customer_submitted", "customer_id", "submitted_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100)
    external_id: str = Field(max_length=200)
    score: int
    category: str = Field(max_length=10)
    comment: str | None = None
    submitted_at: datetime = Field(sa_column=utc_column(nullable=False))
    received_at: datetime = Field(sa_column=utc_column(nullable=False))
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    # Segment and ARR as they were when the customer answered: digests group by these.
    segment: str | None = Field(default=None, max_length=100)
    arr: float | None = None
    tags: dict | None = Field(default=None, sa_column=Column(JSON))
    followup_id: int | None = Field(default=None, foreign_key="followup.id", index=True)
    # The detractor comment's theme (bot/theme_assign.py) and who chose it: model, keyword or person.
    theme: str | None = Field(default=None, max_length=80)
    theme_source: str | None = Field(default=None, max_length=10)


class FollowUp(SQLModel, table=True):
    """A detractor waiting for a human; its id is the `#N` users see."""

    __table_args__ = (
        # At most one follow-up per customer that is not closed: a second detractor answer joins it.
        Index(
            "uq_followup_customer_active",
            "customer_id",
            unique=True,
            sqlite_where=text("status != 'closed' AND customer_id IS NOT NULL"),
            postgresql_where=text("status != 'closed' AND customer_id IS NOT NULL"),
        ),
        Index("ix_followup_status_opened", "status", "opened_at"),
        # Digest: "recovered" looks up closed follow-ups by customer and time.
        Index("ix_followup_customer_closed", "customer_id", "closed_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    response_id: int | None = Field(default=None)
    latest_response_id: int | None = Field(default=None)
    status: str = Field(default=Status.OPEN, max_length=10)
    claimant_id: str | None = Field(default=None, max_length=300)  # `platform:` + bot.limits.MAX_USER_ID
    claimant_name: str | None = Field(default=None, max_length=256)  # Entra display names: 256
    outcome: str | None = Field(default=None, max_length=20)
    last_note: str | None = None
    opened_at: datetime = Field(sa_column=utc_column(index=True, nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column())
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    claim_reminded_at: datetime | None = Field(default=None, sa_column=utc_column())
    close_reminded_at: datetime | None = Field(default=None, sa_column=utc_column())
    # No reminders or escalation before this (bot/snooze.py).
    snoozed_until: datetime | None = Field(default=None, sa_column=utc_column())
    # Root cause named on close (a theme name), for the digest's causes of closed follow-ups.
    cause: str | None = Field(default=None, max_length=80)


class Event(SQLModel, table=True):
    """One line of a follow-up's audit trail."""

    id: int | None = Field(default=None, primary_key=True)
    followup_id: int = Field(foreign_key="followup.id", index=True)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    actor_id: str = Field(max_length=300)
    actor_name: str = Field(max_length=256)
    action: str = Field(max_length=30)
    text: str | None = None


class Subscription(SQLModel, table=True):
    """A channel that receives alerts and/or a digest."""

    __table_args__ = (UniqueConstraint("platform", "channel_id", name="uq_subscription_channel"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    channel_id: str = Field(max_length=300)
    alerts: bool = False
    segment: str | None = Field(default=None, max_length=100)
    max_score: int = 6
    digest_weekday: str | None = Field(default=None, max_length=3)
    digest_time: str | None = Field(default=None, max_length=5)
    digest_tz: str | None = Field(default=None, max_length=64)
    created_by: str | None = Field(default=None, max_length=300)
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    # Routing (issue 16, bot/routing.py): more alert conditions, a duty rotation, escalation.
    min_arr: float | None = None
    theme: str | None = Field(default=None, max_length=200)
    tag_filter: dict | None = Field(default=None, sa_column=Column(JSON))
    alerts_since: datetime | None = Field(default=None, sa_column=utc_column())
    duty: dict | None = Field(default=None, sa_column=Column(JSON))
    escalate_to: str | None = Field(default=None, max_length=300)
    escalate_after_minutes: int | None = None


class PostedMessage(SQLModel, table=True):
    """Where an alert was posted, so updates and reactions find their follow-up."""

    __table_args__ = (
        UniqueConstraint("platform", "channel_id", "message_ref", name="uq_posted_message"),
    )
    id: int | None = Field(default=None, primary_key=True)
    followup_id: int = Field(foreign_key="followup.id", index=True)
    platform: str = Field(max_length=20)
    channel_id: str = Field(max_length=300)
    message_ref: str = Field(max_length=300)
    posted_at: datetime = Field(sa_column=utc_column(nullable=False))


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class Outbox(SQLModel, table=True):
    """A delivery owed to a chat platform; written in the same transaction as its cause."""

    __table_args__ = (Index("ix_outbox_pending", "status", "platform", "channel_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    channel_id: str = Field(max_length=300)
    kind: str = Field(max_length=30)
    followup_id: int | None = Field(default=None, index=True)
    payload: dict | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(default=OutboxStatus.PENDING, max_length=10)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column(nullable=False))
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_error: str | None = None


class TeamsConversation(SQLModel, table=True):
    """A stored Bot Framework conversation reference, for proactive posts after restarts."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(max_length=500, unique=True)
    reference: dict = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class DigestRun(SQLModel, table=True):
    """A digest posted (or being posted) for one subscription and period: never twice."""

    __table_args__ = (
        UniqueConstraint("subscription_id", "period_start", name="uq_digest_run_period"),
    )
    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscription.id")
    period_start: datetime = Field(sa_column=utc_column(nullable=False))
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class SeenEvent(SQLModel, table=True):
    """A platform event id already acted on (Slack retries carry the same id)."""

    event_id: str = Field(primary_key=True, max_length=200)
    platform: str = Field(max_length=20)
    seen_at: datetime = Field(sa_column=utc_column(nullable=False))


class Escalation(SQLModel, table=True):
    """A follow-up escalated by one channel's rule: unique, so it happens once (bot/escalation.py)."""

    __table_args__ = (UniqueConstraint("followup_id", "subscription_id", name="uq_escalation_rule"),)
    id: int | None = Field(default=None, primary_key=True)
    followup_id: int = Field(foreign_key="followup.id", index=True)
    subscription_id: int = Field(foreign_key="subscription.id")
    platform: str = Field(max_length=20)
    channel_id: str = Field(max_length=300)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class ThemeExample(SQLModel, table=True):
    """A comment a person filed under a theme by hand: a labelled example for later assignments."""

    id: int | None = Field(default=None, primary_key=True)
    theme: str = Field(max_length=80, index=True)
    text: str
    response_id: int | None = Field(default=None, unique=True)
    actor_name: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class ThemeAdded(SQLModel, table=True):
    """A theme added from the digest's proposals (**Add theme**), after those of the theme file."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    description: str
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class MailMessage(SQLModel, table=True):
    """An e-mail npsbot sent or received (issue 14): the Message-ID → follow-up map for replies.

    Outgoing rows are written with the outbox row that sends them, so the Message-ID is known
    before the first attempt; incoming rows that match nothing keep `followup_id` empty and their
    raw bytes, so no customer mail is lost.
    """

    __table_args__ = (UniqueConstraint("direction", "message_id", name="uq_mail_message_direction_id"),)
    id: int | None = Field(default=None, primary_key=True)
    direction: str = Field(max_length=3)  # "out" or "in"
    kind: str = Field(max_length=20)  # out: contact, resurvey · in: reply, auto, unmatched
    message_id: str = Field(max_length=300)
    followup_id: int | None = Field(default=None, foreign_key="followup.id", index=True)
    actor_name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=500)
    body: str | None = None
    raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    at: datetime = Field(sa_column=utc_column(index=True, nullable=False))


class Resurvey(SQLModel, table=True):
    """The one re-survey of a closed follow-up: scheduled, sent (or skipped, with why), answered."""

    id: int | None = Field(default=None, primary_key=True)
    followup_id: int = Field(foreign_key="followup.id", unique=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    status: str = Field(max_length=10)  # sent · skipped · answered
    reason: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    answered_at: datetime | None = Field(default=None, sa_column=utc_column())
    response_id: int | None = Field(default=None)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))


class MailOptOut(SQLModel, table=True):
    """A customer who unsubscribed from npsbot's e-mail: never contacted or re-surveyed again."""

    customer_id: int = Field(foreign_key="customer.id", primary_key=True)
    at: datetime = Field(sa_column=utc_column(nullable=False))


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"


class Inbox(SQLModel, table=True):
    """A chat command acknowledged to the platform and not yet applied (bot/inbox.py).

    Written before the acknowledgement goes out, keyed by the platform's request id, so a crash
    after the ack loses nothing and a redelivery is applied once.
    """

    __table_args__ = (Index("ix_inbox_pending", "status", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    request_key: str = Field(max_length=300, unique=True)
    platform: str = Field(max_length=20)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default=InboxStatus.PENDING, max_length=10)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=300)
    lease_until: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=utc_column())


class AlertStorm(SQLModel, table=True):
    """One channel-minute's summary of the new follow-ups beyond NPSBOT_ALERT_BURST (bot/storms.py).

    Its follow-ups are PostedMessage rows whose message_ref is `storm:<id>:<followup id>`, so every
    change to one of them re-renders this summary in place, as it would their own alert.
    """

    __table_args__ = (Index("ix_alertstorm_channel_started", "platform", "channel_id", "started_at"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    channel_id: str = Field(max_length=300)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    message_ref: str | None = Field(default=None, max_length=300)
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
