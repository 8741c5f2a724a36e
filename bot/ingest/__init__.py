"""Response intake: validation of the generic JSON, and idempotent storage with follow-ups.

One call stores a whole batch in one transaction: responses (unique on source + id), customers,
follow-ups for new detractors (joining a customer's open follow-up when there is one), audit
events and the outbox rows that will post the alerts. Either all of it is written or none.

Detractor answers older than the live window on arrival are history (bot/livewindow.py): stored
and counted, nothing more. Webhooks and `npsbot import` share this one store step; its bulk
(every row but new live detractors) goes to the driver directly: executemany on SQLite, COPY on
PostgreSQL.

The package: `schema` (ResponseIn, the generic CSV's CsvRowIn and the error mapping), `store`
(customers, responses, history), `bulk` (the driver-level bulk insert), `followups` (plan, then
write, the follow-ups of new detractors), `group` (transactions, retries, group commit) and
`stream` (an import's writer).
Everything webhooks use is re-exported here.
"""

from __future__ import annotations

from bot.ingest.group import GroupCommit, IngestResult, group_commit, ingest, ingest_groups
from bot.ingest.schema import (
    MAX_BATCH,
    MAX_COMMENT,
    CustomerIn,
    FieldError,
    ResponseIn,
    validate_body,
    validate_item,
)
from bot.ingest.store import add_late_comment

__all__ = [
    "MAX_BATCH", "MAX_COMMENT", "CustomerIn", "FieldError", "GroupCommit", "IngestResult", "ResponseIn",
    "add_late_comment", "group_commit", "ingest", "ingest_groups", "validate_body", "validate_item",
]
