"""npsbot's application core: rules, numbers and wiring, free of chat-platform SDKs.

Every module, by what it holds (a test checks this map names them all):

Model and words
  commands         the one Command model + text parser   command_inputs  buttons/forms -> Command, once
  errors           domain errors carrying the sentence    views           platform-neutral things to show
  wording          shared words and formats               textview        plain-text rendering (shell, fallbacks)
  actors           who did something, on which platform   limits          bounds on numbers and staff text
  nps              NPS maths (score, margin, change)      chart           the digest's trend chart (PNG)
Services
  dispatch         Command -> service -> view             followups       the lifecycle (claim, close, ...)
  queries          read models for lists, details, score  visibility      who may see a follow-up, from where
  ingest           validated, idempotent response intake (schema, store, bulk, followups, group)
  csvimport        CSV rows into responses
  livewindow       what is history (no follow-up)         importfile      a CSV file read as a stream
  importpipe       import reading/validating in a 2nd process
  digest           the weekly digest (views, format, periods, sql, loop, build, posting)
  channels         subscriptions and digest schedules
  reminders        SLA reminders                          escalation      unclaimed follow-ups escalated
  routing          alert filters per channel              routing_commands the dispatcher's routing branch
  rotation         duty rotations                         snooze          silencing reminders for a while
  owners           owner e-mail -> chat user              erasure         forgetting one customer
  themes           first-round keyword taxonomy           theme_catalog   which themes exist
  theme_model      offline embedding model                theme_assign    one theme for a comment (pure)
  theme_service    themes at run time                     theme_commands  the theme commands' grammar
  theme_views      runs the theme commands                theme_digest    the digest's theme section
  mail             the customer loop by e-mail (compose, facts, inbound, outgoing, recovery, resurvey, sender, tokens)
Delivery and doors' plumbing
  outbox           writing deliveries (caller's transaction) and the worker's leasing SQL
  storms           a channel's alert burst folded into one summary
  delivery         the outbox worker, its per-kind senders and the Notifier protocol
  background       starting and stopping the background loops, once
  inbox            chat requests written down before their ack
  event_dedup      platform event ids acted on once
  retry_after      one reading of Retry-After
  scheduler        digests and reminders on a schedule (APScheduler)
Wiring and operations
  config           settings from the environment          runtime         Runtime and Services (every door's)
  clock            the injectable clock                   logs            JSON log lines, secrets redacted
  metrics          Prometheus metrics                     demo            the shell's sample data
  app              composition root (aiohttp server)      cli             the `npsbot` command
  cli_errors       start-up failures as one line
"""
