"""Platform-neutral things to show: what every renderer (text, Block Kit, Adaptive Card) draws.

Views are plain frozen data built by `bot.queries` from the database. Renderers never query and
never decide which actions apply: `AlertView.actions` says so. Customer-supplied strings in views
are raw; every renderer escapes them for its own markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.commands import HELP_LINES, Verb
from bot.nps import Change, NpsSummary
from storage.models import Category, Outcome, Status


@dataclass(frozen=True)
class CustomerView:
    external_id: str
    name: str | None
    email: str | None  # already masked unless NPSBOT_SHOW_EMAILS is true
    segment: str | None
    arr: float | None
    owner: str | None

    @property
    def label(self) -> str:
        return self.name or self.external_id


@dataclass(frozen=True)
class ScorePoint:
    submitted_at: datetime
    score: int


@dataclass(frozen=True)
class AlertView:
    """A follow-up as its alert shows it."""

    number: int
    status: Status
    score: int
    category: Category
    comment: str | None
    submitted_at: datetime
    source: str
    customer: CustomerView | None
    segment: str | None
    arr: float | None
    earlier_scores: tuple[ScorePoint, ...]
    claimant_id: str | None
    claimant_name: str | None
    outcome: Outcome | None
    last_note: str | None
    response_count: int
    opened_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    overdue: bool = False
    actions: tuple[Verb, ...] = ()
    # Routing (issue 16): snoozed until, escalated (to these channels), the owner's chat user id
    # (filled in by the platform notifier from the owner's e-mail; None = show the e-mail as text).
    snoozed_until: datetime | None = None
    escalated: bool = False
    owner_user_id: str | None = None
    owner_name: str | None = None
    theme: str | None = None  # of the comment shown; None: no theme fits (or no comment)
    cause: str | None = None  # root cause named on close
    theme_options: tuple[str, ...] = ()  # the themes in force: the alert's theme select, close causes
    # The customer loop by e-mail (bot/mail): last contact, and the re-survey answer.
    contacted_at: datetime | None = None
    resurvey_score: int | None = None

    @property
    def claimant_user_id(self) -> str | None:
        """The platform's own user id of the claimant (`U123` for `slack:U123`)."""
        if not self.claimant_id:
            return None
        return self.claimant_id.split(":", 1)[1]

    @property
    def claimant_platform(self) -> str | None:
        return self.claimant_id.split(":", 1)[0] if self.claimant_id else None


@dataclass(frozen=True)
class EventView:
    at: datetime
    actor_name: str
    action: str
    text: str | None


@dataclass(frozen=True)
class ResponseView:
    submitted_at: datetime
    score: int
    comment: str | None
    source: str


@dataclass(frozen=True)
class FollowUpDetail:
    """`show N`: the alert plus every response, note and audit line."""

    alert: AlertView
    responses: tuple[ResponseView, ...]
    history: tuple[ScorePoint, ...]
    events: tuple[EventView, ...]


@dataclass(frozen=True)
class FollowUpList:
    title: str
    items: tuple[AlertView, ...]
    total: int
    empty_text: str


@dataclass(frozen=True)
class ScoreView:
    period_days: int
    segment: str | None
    current: NpsSummary
    previous: NpsSummary
    change: Change


@dataclass(frozen=True)
class Notice:
    """A sentence of our own (no customer text), e.g. a confirmation or a refusal."""

    text: str
    ok: bool = True
    alert: AlertView | None = None  # the follow-up it concerns, when there is one


@dataclass(frozen=True)
class HelpView:
    error: str | None = None
    lines: tuple[tuple[str, str], ...] = field(default=HELP_LINES)


@dataclass(frozen=True)
class HomeView:
    """The Slack App Home (and the Teams personal summary): mine, the queue, 30-day NPS."""

    mine: tuple[AlertView, ...]
    unclaimed: tuple[AlertView, ...]
    unclaimed_total: int
    score: ScoreView
    # How many follow-ups are mine in all (`mine` holds the first of them); None = len(mine).
    mine_total: int | None = None


Reply = Notice | HelpView | FollowUpList | FollowUpDetail | ScoreView | HomeView
