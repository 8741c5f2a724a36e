"""Recovery, measured: did the detractors we contacted come back with a better score?

A cohort (follow-ups opened in the 90 days before the digest ends, so a 30-day re-survey has had
time to come back) is counted in one SQL query. **Recovered** = the customer's next score after
the follow-up opened (any source, the opening answer excluded) is 7 or more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import case, func, select
from sqlmodel import Session

from bot.clock import as_utc
from storage.models import Customer, FollowUp, MailMessage, Outcome, Response, Resurvey

COHORT = timedelta(days=90)

DEFINITIONS = (
    "Cohort: follow-ups opened in the 90 days before this digest.",
    "Contacted: someone e-mailed the customer from npsbot (`email N`); time = from opening to first e-mail.",
    "Re-surveyed: the customer was asked again after a close as resolved or recovered; answered: they replied.",
    "Recovered: the customer's next score after the follow-up opened is 7 or more; "
    "rate = recovered ÷ those with a next score.",
    "Staff said recovered: follow-ups closed with the outcome `recovered`.",
)


@dataclass(frozen=True)
class Group:
    followups: int = 0
    measured: int = 0  # with a next score
    recovered: int = 0

    @property
    def rate(self) -> float | None:
        return self.recovered / self.measured if self.measured else None


@dataclass(frozen=True)
class RecoveryView:
    cohort: int = 0
    contacted: Group = Group()
    not_contacted: Group = Group()
    median_to_contact: timedelta | None = None
    resurveyed: int = 0
    answered: int = 0
    arr_recovered: float = 0.0
    staff_recovered: int = 0
    unmatched: int = 0  # customer e-mails of the last 7 days that matched no follow-up

    @property
    def recovered(self) -> int:
        return self.contacted.recovered + self.not_contacted.recovered

    @property
    def measured(self) -> int:
        return self.contacted.measured + self.not_contacted.measured


def recovery(session: Session, end: datetime, segment: str | None = None) -> RecoveryView:
    start = end - COHORT
    fu_filter = [FollowUp.opened_at >= start, FollowUp.opened_at < end]
    if segment:
        fu_filter.append(Customer.segment == segment)
    first_contact = (select(func.min(MailMessage.at)).where(
        MailMessage.followup_id == FollowUp.id, MailMessage.direction == "out", MailMessage.kind == "contact")
        .correlate(FollowUp).scalar_subquery())
    next_score = (select(Response.score).where(
        Response.customer_id == FollowUp.customer_id, Response.submitted_at > FollowUp.opened_at,
        Response.id != FollowUp.response_id, Response.submitted_at < end)
        .order_by(Response.submitted_at, Response.id).limit(1).correlate(FollowUp).scalar_subquery())
    survey = (select(Resurvey.status).where(Resurvey.followup_id == FollowUp.id)
              .correlate(FollowUp).scalar_subquery())
    cohort = (select(FollowUp.id.label("id"), FollowUp.opened_at.label("opened_at"),
                     FollowUp.outcome.label("outcome"), Customer.arr.label("arr"),
                     first_contact.label("contacted_at"), next_score.label("next_score"),
                     survey.label("survey"))
              .select_from(FollowUp).outerjoin(Customer, Customer.id == FollowUp.customer_id)
              .where(*fu_filter).subquery())
    contacted = cohort.c.contacted_at.is_not(None)
    good = cohort.c.next_score >= 7
    rows = session.execute(select(
        contacted.label("contacted"), func.count(), func.count(cohort.c.next_score), func.count(case((good, 1))),
        func.count(case((cohort.c.survey.in_(("sent", "answered")), 1))),
        func.count(case((cohort.c.survey == "answered", 1))),
        func.coalesce(func.sum(case((good, cohort.c.arr), else_=0.0)), 0.0),
        func.count(case((cohort.c.outcome == Outcome.RECOVERED.value, 1))),
    ).group_by(contacted)).all()
    groups = {True: Group(), False: Group()}
    resurveyed = answered = staff = 0
    arr = 0.0
    for flag, n, measured, rec, rs, ans, arr_sum, staff_n in rows:
        groups[bool(flag)] = Group(n, measured, rec)
        resurveyed, answered, staff, arr = resurveyed + rs, answered + ans, staff + staff_n, arr + float(arr_sum)
    # Only the contacted follow-ups' two timestamps are read, for the median.
    waits = [as_utc(c) - as_utc(o) for o, c in session.execute(
        select(cohort.c.opened_at, cohort.c.contacted_at).where(contacted)).all()]
    unmatched = session.execute(select(func.count()).where(
        MailMessage.direction == "in", MailMessage.kind == "unmatched",
        MailMessage.at >= end - timedelta(days=7), MailMessage.at < end)).scalar_one()
    return RecoveryView(
        cohort=groups[True].followups + groups[False].followups, contacted=groups[True],
        not_contacted=groups[False], median_to_contact=median(waits) if waits else None,
        resurveyed=resurveyed, answered=answered, arr_recovered=arr, staff_recovered=staff,
        unmatched=unmatched)


def _rate(g: Group) -> str:
    return f"{g.recovered:,}/{g.measured:,} ({g.rate:.0%})" if g.rate is not None else "no next scores yet"


def recovery_lines(r: RecoveryView, *, money, duration) -> list[str]:
    """The digest's recovery section as text lines (headline figures, then the definitions)."""
    kept = ([f"  {r.unmatched:,} e-mail{'s' if r.unmatched != 1 else ''} this week matched no follow-up "
             "(kept aside, table mailmessage)"] if r.unmatched else [])
    if not r.cohort:
        return ["Recovery (90-day cohort): no follow-ups opened.", *kept]
    c, n = r.contacted, r.not_contacted
    lines = [
        f"Recovery (follow-ups opened in the last 90 days: {r.cohort:,}):",
        f"  Contacted {c.followups:,} (median {duration(r.median_to_contact)} after opening) · "
        f"not contacted {n.followups:,}",
        f"  Re-surveyed {r.resurveyed:,} · answered {r.answered:,}",
        f"  Recovered {r.recovered:,} of {r.measured:,} with a next score · contacted {_rate(c)} · "
        f"not contacted {_rate(n)}",
        f"  ARR of recovered customers {money(r.arr_recovered)} · staff said recovered: {r.staff_recovered:,}",
        *kept,
    ]
    return lines + [f"  · {d}" for d in DEFINITIONS]
