"""Follow-ups for new live detractor answers: open one per answer, or add the answer to the
customer's open one.

Two steps: a pure *plan* (which answer opens a follow-up and which joins which, decided in
memory), then the *write*: a handful of set-based statements per batch, whatever its size (a
batch of a thousand answers must cost about what inserting them costs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, insert, select, update

from bot import outbox, rotation
from storage.models import Event, FollowUp, Response, Status, Subscription

if TYPE_CHECKING:
    from bot.ingest.store import Stored

SYSTEM = {"actor_id": "system:npsbot", "actor_name": "npsbot"}


@dataclass
class Join:
    """A detractor answer that joins a follow-up: an open one (`existing`), or one this batch opens
    (`opener`, the response id that opens it)."""

    response_id: int
    existing: int | None
    opener: int
    row: dict


@dataclass
class Plan:
    """What a batch's detractor answers do: open a follow-up (by first response id) or join one."""

    opening: dict[int, dict] = field(default_factory=dict)  # first response id -> follow-up row
    joins: list[Join] = field(default_factory=list)


def open_followups(session: Connection, detractors: list[tuple[int, dict]], now: datetime, stored: Stored, *,
                   settings: Any) -> None:
    """Plan and write the follow-ups of a batch's new live detractors ((response id, row) pairs);
    record in `stored` which answers opened or joined one."""
    customer_ids = {r["customer_id"] for _, r in detractors if r["customer_id"] is not None}
    plan = plan_followups(detractors, active_followups(session, customer_ids), now)
    write_followups(session, plan, now, stored, settings=settings)


def active_followups(session: Connection, customer_ids: set[int]) -> dict[int, int]:
    """Customer id -> the id of their follow-up that is not closed, locked for this transaction.

    FOR UPDATE (PostgreSQL): a close committed meanwhile by another replica waits for us, rather
    than leaving this answer attached to a follow-up nobody owns any more.
    """
    if not customer_ids:
        return {}
    return dict(session.execute(
        select(FollowUp.customer_id, FollowUp.id).where(
            FollowUp.customer_id.in_(customer_ids), FollowUp.status != Status.CLOSED
        ).order_by(FollowUp.id).with_for_update()
    ).all())


def plan_followups(detractors: list[tuple[int, dict]], active: dict[int, int], now: datetime) -> Plan:
    """Decide, in memory, which answer opens a follow-up and which joins one (in answer order)."""
    plan = Plan()
    opened_by_customer: dict[int, int] = {}  # customer id -> first response id, for this batch
    for response_id, r in sorted(detractors, key=lambda d: d[1]["submitted_at"]):
        cid = r["customer_id"]
        if cid is not None and cid in active:
            plan.joins.append(Join(response_id, active[cid], 0, r))
        elif cid is not None and cid in opened_by_customer:
            opener = opened_by_customer[cid]
            plan.opening[opener]["latest_response_id"] = response_id
            plan.joins.append(Join(response_id, None, opener, r))
        else:
            plan.opening[response_id] = {"customer_id": cid, "response_id": response_id,
                                         "latest_response_id": response_id, "status": Status.OPEN.value,
                                         "opened_at": now, "updated_at": now, "_row": r}
            if cid is not None:
                opened_by_customer[cid] = response_id
    return plan


def write_followups(session: Connection, plan: Plan, now: datetime, stored: Stored, *, settings: Any) -> None:
    """Carry out a plan: insert the new follow-ups, link the answers, write the audit events, queue
    the alerts (and assignments), and refresh the alerts of follow-ups that new answers joined."""
    fid_of = _insert_followups(session, plan)
    subs = list(session.execute(select(*Subscription.__table__.c).where(Subscription.alerts)).all())
    events: list[dict] = []
    links, posts, matched = _opened(plan, fid_of, subs, now, stored, events)
    latest, joined_rows = _joined(plan, fid_of, stored, links, events, now)
    session.execute(
        update(Response.__table__).where(Response.__table__.c.id == bindparam("rid"))
        .values(followup_id=bindparam("fid")),
        links,
    )
    if latest:
        table = FollowUp.__table__
        session.execute(
            update(table).where(table.c.id == bindparam("fid"))
            .values(latest_response_id=bindparam("rid"), updated_at=now),
            [{"fid": fid, "rid": rid} for fid, (rid, _) in latest.items()],
        )
        outbox.refresh_alerts(session, {fid: joined_line(joined_rows[fid]) for fid in latest}, now=now)
    session.execute(insert(Event), events)
    outbox.add(session, posts)
    outbox.add(session, rotation.assign_new(session, matched, settings=settings, now=now))
    # Answers joining a follow-up opened in this same batch: its alert is not posted yet, so the
    # line goes to the thread of each alert just queued (delivered once the alert is up).
    fresh = {fid: rows_ for fid, rows_ in joined_rows.items() if fid not in latest}
    outbox.add(session, [
        outbox.row(platform=p["platform"], channel_id=p["channel_id"], kind=outbox.THREAD_NOTE, now=now,
                   followup_id=p["followup_id"], payload={"text": joined_line(fresh[p["followup_id"]])})
        for p in posts if p["followup_id"] in fresh
    ])


def _insert_followups(session: Connection, plan: Plan) -> dict[int, int]:
    """Insert the plan's new follow-ups; return first response id -> follow-up id."""
    if not plan.opening:
        return {}
    table = FollowUp.__table__
    rows = [{k: v for k, v in o.items() if k != "_row"} for o in plan.opening.values()]
    returned = session.execute(insert(table).returning(table.c.id, table.c.response_id), rows).all()
    return {rid: fid for fid, rid in returned}


def _opened(plan: Plan, fid_of: dict[int, int], subs: list[Any], now: datetime, stored: Stored,
            events: list[dict]) -> tuple[list[dict], list[dict], dict[int, list]]:
    """Links, audit events and alert posts of the follow-ups just opened, and the channels each
    alert goes to (for assignment)."""
    links, posts = [], []
    matched: dict[int, list] = {}
    for rid, o in plan.opening.items():
        fid = fid_of[rid]
        stored.opened[(o["_row"]["source"], o["_row"]["external_id"])] = fid
        links.append({"rid": rid, "fid": fid})
        r = o["_row"]
        events.append({"at": now, **SYSTEM, "followup_id": fid, "action": "opened", "text": response_line(r)})
        matched[fid] = outbox.matching_subscriptions(subs, score=r["score"], segment=r["segment"], arr=r["arr"],
                                                     tags=r["tags"],
                                                     theme=r.get("theme"))  # the model's (bot.ingest.store)
        for sub in matched[fid]:
            posts.append(outbox.row(platform=sub.platform, channel_id=sub.channel_id, kind=outbox.ALERT_POST,
                                    now=now, followup_id=fid))
    return links, posts, matched


def _joined(plan: Plan, fid_of: dict[int, int], stored: Stored, links: list[dict], events: list[dict],
            now: datetime) -> tuple[dict[int, tuple[int, dict]], dict[int, list[dict]]]:
    """Links and audit events of the answers that joined a follow-up; returns the newest answer
    per follow-up that was already open, and every joining answer per follow-up."""
    latest: dict[int, tuple[int, dict]] = {}
    joined_rows: dict[int, list[dict]] = {}  # follow-up -> every answer that joined it in this batch
    for j in plan.joins:
        fid = j.existing if j.existing is not None else fid_of[j.opener]
        links.append({"rid": j.response_id, "fid": fid})
        events.append({"at": now, **SYSTEM, "followup_id": fid, "action": "response", "text": response_line(j.row)})
        joined_rows.setdefault(fid, []).append(j.row)
        if j.existing is not None:
            latest[fid] = (j.response_id, j.row)
            stored.joined[(j.row["source"], j.row["external_id"])] = fid
    return latest, joined_rows


def joined_line(rows: list[dict]) -> str:
    """One thread line for every answer that joined a follow-up at once (collapsed when several)."""
    if len(rows) == 1:
        return f"New answer from this customer: {response_line(rows[0])}"
    return f"{len(rows)} new answers from this customer: " + " · ".join(response_line(r) for r in rows)


def response_line(r: dict) -> str:
    comment = r["comment"]
    if comment and len(comment) > 200:
        comment = comment[:199] + "…"
    return f"scored {r['score']}" + (f": “{comment}”" if comment else "")
