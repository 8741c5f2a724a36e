"""Of any number of simultaneous claims exactly one wins, on SQLite and on PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

from bot.actors import Actor, Place
from bot.app import build_runtime, build_services
from bot.config import Settings
from bot.ingest import ingest, validate_body
from bot.views import Notice


def test_twenty_simultaneous_claims_have_one_winner(any_db, clock):
    rt = build_runtime(Settings(DATABASE_URL=any_db), clock=clock)
    dispatcher = build_services(rt).dispatcher
    items, _ = validate_body({"id": "r1", "score": 2, "customer": {"id": "c1"}})
    ingest(rt, items)
    place = Place("shell", "#cx")

    def claim(i: int) -> Notice:
        return dispatcher.handle_text("claim 1", Actor("shell", f"user{i}", f"User {i}"), place)

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(claim, range(20)))

    winners = [r for r in replies if r.ok]
    assert len(winners) == 1
    winner_name = winners[0].alert.claimant_name
    losers = [r.text for r in replies if not r.ok]
    assert losers == [f"#1 is already claimed by {winner_name}."] * 19
    rt.engine.dispose()
