"""The delivery worker's sender for e-mail rows (bot.mail.outgoing writes them).

The notifier of the `email` platform is the SMTP sender (handlers/mail/smtp.py); the row's payload
is the whole message, Message-ID included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.delivery import DeliveryWorker
    from bot.outbox import Job


async def send_email(worker: DeliveryWorker, notifier: Any, job: Job) -> str | None:
    """Send one e-mail row through the SMTP sender."""
    await notifier.send_email(job.payload or {})
    return None
