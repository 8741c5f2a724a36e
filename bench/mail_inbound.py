"""How much a hostile e-mail costs to read, against an ordinary reply (not a test).

Times `bot.mail.inbound.parse` (MIME parsing, body choice, quote stripping) on: an ordinary
reply with quoted history (the baseline), a 2 MB reply with an attachment, an HTML-only reply,
and a MIME bomb (60 nested multiparts around 400 parts). Prints the median of repeated runs and
the ratio to the baseline measured in the same run.

    python bench/mail_inbound.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from email import policy
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.mail.inbound import parse  # noqa: E402

QUOTE = "\n".join(f"> line {i} of the earlier message, quoted by the mail client" for i in range(40))


def ordinary() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "ops@acme.example", "Re: Your feedback [#1]", "<a@x>"
    msg.set_content(f"Thanks, that fixed it.\n\nBest,\nJane\n-- \nJane\n\nOn Mon, Acme wrote:\n{QUOTE}\n")
    return msg.as_bytes()


def big() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "ops@acme.example", "Re: logs [#1]", "<b@x>"
    msg.set_content("Logs attached.")
    msg.add_attachment(b"\x00" * (2 * 1024 * 1024), maintype="application", subtype="octet-stream",
                       filename="logs.bin")
    return msg.as_bytes()


def html_only() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "ops@acme.example", "Re: [#1]", "<c@x>"
    msg.set_content("<html><body>" + "<p>All <b>good</b> now, thanks!</p>" * 50 + "</body></html>",
                    subtype="html")
    return msg.as_bytes()


def bomb() -> bytes:
    inner = MIMEText("boom")
    for _ in range(60):
        outer = MIMEMultipart()
        outer.attach(inner)
        inner = outer
    wide = MIMEMultipart()
    for _ in range(400):
        wide.attach(MIMEText("x"))
    inner.attach(wide)
    return inner.as_bytes()


def full_parse(raw: bytes) -> None:
    """What reading the bomb would cost without the container count: the standard parser alone."""
    BytesParser(policy=policy.default).parsebytes(raw)


def median_ms(raw: bytes, runs: int, fn=None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        (fn or parse)(raw)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    runs = 5 if parser.parse_args().quick else 25
    cases = {"ordinary reply": ordinary(), "2 MB with attachment": big(), "HTML-only": html_only(),
             "MIME bomb (60 deep, 400 parts)": bomb()}
    base = median_ms(cases["ordinary reply"], runs)
    print(f"{'message':<32} {'size':>10} {'median ms':>10} {'× ordinary':>11}")
    for name, raw in cases.items():
        ms = base if name == "ordinary reply" else median_ms(raw, runs)
        print(f"{name:<32} {len(raw):>10,} {ms:>10.2f} {ms / base:>11.1f}")
    raw = cases["MIME bomb (60 deep, 400 parts)"]
    ms = median_ms(raw, max(3, runs // 5), full_parse)
    print(f"{'MIME bomb, parser without check':<32} {len(raw):>10,} {ms:>10.2f} {ms / base:>11.1f}")


if __name__ == "__main__":
    main()
