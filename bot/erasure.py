"""Erasure of one customer's data on request (`npsbot forget customer ID`).

What goes: every response of the customer (scores, comments, tags), the customer's name, e-mail and
owner, and every free text attached to their follow-ups (notes, close texts, the text of thread
lines still stored in the outbox). What stays: the follow-ups themselves with their numbers,
states, outcomes and times, so `#N` still means something to staff and the loop counts hold; the
audit trail keeps who did what and when, without the text, plus one `forgotten` event. Every alert
already posted is re-rendered without the customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update

from bot import outbox
from bot.actors import Actor
from bot.errors import NotFound
from bot.runtime import Runtime
from storage.db import session_scope
from storage.models import Customer, Event, FollowUp, Outbox, Response

MASK = "[erased on request]"


@dataclass(frozen=True)
class Forgotten:
    customer_ref: str
    responses: int
    followups: tuple[int, ...]


def forget_customer(rt: Runtime, external_id: str, actor: Actor) -> Forgotten:
    """Delete the responses of customer `external_id` and mask their follow-ups' text, atomically.

    Raises:
        NotFound: no customer has that id.
    """
    now = rt.clock.now()
    with session_scope(rt.engine) as s:
        customer = s.execute(select(Customer).where(Customer.external_id == external_id)).scalar_one_or_none()
        if customer is None:
            raise NotFound(f"There is no customer with id {external_id!r}.")
        cid = customer.id
        fids = tuple(s.execute(select(FollowUp.id).where(FollowUp.customer_id == cid)
                               .order_by(FollowUp.id)).scalars())
        responses = s.execute(delete(Response).where(Response.customer_id == cid)).rowcount or 0
        if fids:
            s.execute(update(FollowUp).where(FollowUp.id.in_(fids)).values(
                response_id=None, latest_response_id=None, last_note=None, updated_at=now))
            s.execute(update(Event).where(Event.followup_id.in_(fids), Event.text.is_not(None))
                      .values(text=MASK))
            for row in s.execute(select(Outbox).where(Outbox.followup_id.in_(fids))).scalars():
                if row.payload and "text" in row.payload:
                    row.payload = {**row.payload, "text": MASK}
            s.add_all([Event(followup_id=fid, at=now, actor_id=actor.key, actor_name=actor.name,
                             action="forgotten", text=None) for fid in fids])
            outbox.refresh_alerts(s, dict.fromkeys(fids), now=now)
        # The row stays (follow-ups point at it) but says nothing about who it was.
        customer.external_id = f"forgotten-{cid}"
        customer.name = customer.email = customer.owner = None
        customer.updated_at = now
    rt.wake()
    return Forgotten(customer_ref=external_id, responses=responses, followups=fids)
