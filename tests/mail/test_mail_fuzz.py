"""Whatever bytes arrive as an e-mail, reading them never raises and yields bounded text."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.mail.inbound import MAX_SHOWN, parse, strip_quotes

HEADERS = st.sampled_from([
    b"Content-Type: multipart/mixed; boundary=x\r\n", b"Content-Type: text/plain; charset=x-bogus\r\n",
    b"Content-Type: text/html; charset=utf-16\r\n", b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n", b"In-Reply-To: <a@b>\r\n", b"References: <<<>>>\r\n",
    b"From: =?utf-8?b?w6k=?= <x@y>\r\n", b"Subject: =?bogus?q?x?=\r\n", b"Auto-Submitted: \r\n",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(HEADERS, max_size=6), st.binary(max_size=3000))
def test_parsing_hostile_bytes_never_raises(headers, body):
    parsed = parse(b"".join(headers) + b"\r\n" + body)
    assert len(parsed.text) <= MAX_SHOWN and parsed.message_id.startswith("<")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=2000))
def test_stripping_quotes_never_raises(text):
    assert isinstance(strip_quotes(text), str)
