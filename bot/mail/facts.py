"""What an alert shows of the e-mail loop: when the customer was last contacted, the re-survey score."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from bot.clock import as_utc
from storage.models import MailMessage, Response

SOURCE = "resurvey"


def loop_facts(session: Session, ids: list[int]) -> dict[int, tuple[datetime | None, int | None]]:
    """{follow-up id: (last contacted at, re-survey score)} in two queries."""
    if not ids:
        return {}
    contacted = dict(session.execute(
        select(MailMessage.followup_id, func.max(MailMessage.at)).where(
            MailMessage.followup_id.in_(ids), MailMessage.direction == "out", MailMessage.kind == "contact")
        .group_by(MailMessage.followup_id)).all())
    scores = dict(session.execute(
        select(Response.followup_id, Response.score).where(
            Response.followup_id.in_(ids), Response.source == SOURCE)).all())
    return {i: (as_utc(contacted.get(i)), scores.get(i)) for i in ids}
