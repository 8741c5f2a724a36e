"""The edges: every way a request enters npsbot (Slack, Teams, survey webhooks, the shell).

Each door parses its platform's payload into a `bot.commands.Command` (or validated responses),
hands it to the dispatcher (or ingest), and renders the reply for its platform.
"""
