"""The customer loop by e-mail (issue 14): contact, replies, re-survey and recovery.

Domain only: composing and queueing mail (as outbox rows of kind `email`), matching and cleaning
replies, signed re-survey links, and the recovery figures. SMTP, IMAP and the HTTP pages are
edges in `handlers/mail/`.
"""
