"""Prometheus metrics, exposed at GET /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

INGESTED = Counter("npsbot_responses_ingested_total", "Responses stored (duplicates excluded).",
                   ["source"], registry=REGISTRY)
DUPLICATES = Counter("npsbot_responses_duplicate_total", "Responses received again and not stored.",
                     registry=REGISTRY)
REJECTED = Counter("npsbot_requests_rejected_total", "Ingest requests refused, by HTTP status.",
                   ["status"], registry=REGISTRY)
DELIVERED = Counter("npsbot_deliveries_total", "Outbox rows delivered.", ["platform", "kind"],
                    registry=REGISTRY)
FAILED = Counter("npsbot_deliveries_failed_total", "Outbox rows given up on (dead).",
                 ["platform", "kind"], registry=REGISTRY)
PLATFORM_ERRORS = Counter("npsbot_platform_api_errors_total", "Chat platform API errors.",
                          ["platform", "status"], registry=REGISTRY)
DELIVERY_SECONDS = Histogram("npsbot_delivery_seconds", "Time to deliver one outbox row.",
                             ["platform", "kind"], registry=REGISTRY,
                             buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
OUTBOX_DEPTH = Gauge("npsbot_outbox_depth", "Pending outbox rows.", registry=REGISTRY)
OUTBOX_OLDEST = Gauge("npsbot_outbox_oldest_seconds", "Age of the oldest pending outbox row.",
                      registry=REGISTRY)

# `source` comes from the client: as a label, every new value would be a new time series forever.
# Only these are labelled by name; any other source is counted as `other`.
KNOWN_SOURCES = frozenset({
    "api", "csv", "delighted", "typeform", "surveymonkey", "qualtrics", "google-forms", "google_forms",
    "resurvey", "email", "demo",
})


def source_label(source: str | None) -> str:
    """The Prometheus label for a response's source: its name when known, else `other`."""
    return source if source in KNOWN_SOURCES else "other"
