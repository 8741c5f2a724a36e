"""Every answer that joins a follow-up reaches the alert's thread, including answers that join a
follow-up opened in the same batch; many at once are collapsed into one line."""

import asyncio
import re

from sqlalchemy import func, select

from storage.db import read_scope
from storage.models import FollowUp


def answers_in_thread(fake) -> int:
    total = 0
    for params in fake.ok_calls("chat.postMessage"):
        if not params.get("thread_ts"):
            continue
        text = params["text"]
        many = re.match(r"(\d+) new answers from this customer", text)
        total += int(many.group(1)) if many else text.startswith("New answer from this customer") * 1
    return total


async def test_100_simultaneous_answers_from_one_customer_give_99_thread_answers(slack):
    await slack.subscribe("C0CA5")

    async def answer(i: int):
        resp = await slack.http.post("/webhooks/responses", headers={"Authorization": "Bearer test-token"},
                                     json={"id": f"r{i}", "score": 2, "comment": f"answer {i}",
                                           "customer": {"id": "cus_same"}})
        assert resp.status == 202

    await asyncio.gather(*(answer(i) for i in range(100)))
    for _ in range(5):
        await slack.services.worker.drain(timeout=20)
    with read_scope(slack.rt.engine) as s:
        assert s.execute(select(func.count()).select_from(FollowUp)).scalar_one() == 1
    assert answers_in_thread(slack.fake) == 99


async def test_one_batch_that_opens_and_joins_puts_the_join_in_the_new_alert_s_thread(slack):
    await slack.subscribe("C0CA5")
    await slack.ingest({"id": "a", "score": 1, "comment": "first", "customer": {"id": "c"}},
                       {"id": "b", "score": 3, "comment": "second", "customer": {"id": "c"}},
                       {"id": "d", "score": 4, "comment": "third", "customer": {"id": "c"}})
    await slack.services.worker.drain(timeout=10)
    [alert] = [p for p in slack.fake.ok_calls("chat.postMessage") if "blocks" in p]
    [line] = [p for p in slack.fake.ok_calls("chat.postMessage") if p.get("thread_ts")]
    assert line["channel"] == "C0CA5"
    assert line["text"].startswith("2 new answers from this customer: scored 3: “second” · scored 4: “third”")
    assert alert["channel"] == "C0CA5"
