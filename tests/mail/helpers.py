"""Building customer replies as a mail client would."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

TOKEN = {"Authorization": "Bearer test-token", "Content-Type": "message/rfc822"}


def reply_to(original: EmailMessage, text: str, *, sender: str = "Ops <ops@acme.example>",
             headers: dict | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = original["From"]
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = make_msgid(domain="acme.example")
    msg["In-Reply-To"] = original["Message-ID"]
    msg["References"] = original["Message-ID"]
    for key, value in (headers or {}).items():
        msg[key] = value
    quoted = "\n".join("> " + line for line in original.get_body(("plain",)).get_content().splitlines())
    msg.set_content(f"{text}\n\nOn Fri, Nov 20, 2026, Acme CX <cx@acme.example> wrote:\n{quoted}\n")
    return msg.as_bytes()


async def post_mail(http, raw: bytes, headers: dict | None = None):
    return await http.post("/webhooks/email", data=raw, headers=headers or TOKEN)
