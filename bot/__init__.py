"""npsbot's application core: rules, numbers and wiring, free of chat-platform SDKs.

config     settings from the environment          nps        NPS maths (score, margin, change)
commands   the one Command model + text parser    errors     domain errors carrying the user's sentence
clock      the injectable clock                   actors     who did something, on which platform
ingest     validated, idempotent response intake  followups  the follow-up lifecycle (claim, close, ...)
queries    read models for lists, details, scores views      platform-neutral things to show
dispatch   Command -> service -> view             textview   plain-text rendering (shell, fallbacks)
delivery   the outbox worker and Notifier protocol
app        composition root (aiohttp server)      cli        the `npsbot` command
"""
