"""Building the email for one feedback share: plain text and HTML alternatives, an Easy Read
layout when the recipient needs it, and a Message-ID derived from the idempotency key.

Follows RFC 5322 (Message-ID, Date, From/To), RFC 2046 ``multipart/alternative`` (plain text
first, HTML last, so clients show the richest part they can) through Python's
:mod:`email.message` API, and the UK government's Easy Read guidance for accessible information
(short sentences, one idea per line, large clear sans-serif text, plenty of space).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import string
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote

import attrs

from coprolib.records import Share

KEY_HEADER = "X-Coprolib-Key"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@attrs.frozen(kw_only=True)
class Sender:
    """Who the email is from, and the fixed text around every message."""

    address: str
    name: str | None = None
    reply_to: str | None = None
    organisation: str | None = None
    subject_prefix: str = ""


#: Characters written as they are in the key header; the rest (space, ``%``, anything outside
#: printable ASCII) are percent-encoded, so folding a long header cannot change the key.
_KEY_SAFE = "".join(c for c in string.punctuation if c != "%")


def key_header(key: str) -> str:
    """The ``X-Coprolib-Key`` value for an idempotency key (read back with
    :func:`urllib.parse.unquote` after stripping the folding whitespace)."""
    return quote(key, safe=_KEY_SAFE)


def message_id(key: str, domain: str) -> str:
    """``<sha256(key)[:40].coprolib@domain>``: the same for every attempt at one share, and
    revealing nothing about it."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{digest}.coprolib@{domain}>"


def easy_read_lines(text: str) -> list[str]:
    """``text`` as one sentence per line, blank lines dropped."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        lines.extend(s.strip() for s in _SENTENCE.split(paragraph) if s.strip())
    return lines


def _plain(share: Share, greeting: str, sender: Sender, easy_read: bool) -> str:
    sign_off = sender.organisation or sender.name or ""
    if easy_read:
        body = "\n\n".join(easy_read_lines(share.body))
        parts = [greeting, f"This message is about: {share.title}", body]
        parts.append("Thank you for sharing your story with us.")
    else:
        parts = [greeting, share.title, share.body]
    if sign_off:
        parts.append(sign_off)
    return "\n\n".join(parts) + "\n"


def _html(share: Share, greeting: str, sender: Sender, easy_read: bool) -> str:
    esc = html.escape
    sign_off = esc(sender.organisation or sender.name or "")
    if easy_read:
        style = (
            "font-family: Arial, Helvetica, sans-serif; font-size: 20px; line-height: 1.6; "
            "max-width: 40em; text-align: left"
        )
        lines = "".join(f"<p>{esc(line)}</p>" for line in easy_read_lines(share.body))
        inner = (
            f"<p>{esc(greeting)}</p>"
            f'<h1 style="font-size: 26px">{esc(share.title)}</h1>{lines}'
            "<p>Thank you for sharing your story with us.</p>"
        )
    else:
        style = "font-family: Arial, Helvetica, sans-serif; font-size: 16px; line-height: 1.5"
        paragraphs = "".join(f"<p>{esc(p)}</p>" for p in share.body.splitlines() if p.strip())
        inner = (
            f'<p>{esc(greeting)}</p><h1 style="font-size: 22px">{esc(share.title)}</h1>{paragraphs}'
        )
    if sign_off:
        inner += f"<p>{sign_off}</p>"
    language = esc(share.recipient.language if share.recipient else "en")
    return (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{esc(share.title)}</title></head>"
        f'<body style="{style}">{inner}</body></html>'
    )


def _one_line(text: str) -> str:
    """``text`` with every run of whitespace, line breaks included, as one space: a header is
    one line, and a title typed over two must not end the header early."""
    return " ".join(text.split())


def build_message(share: Share, to: str, sender: Sender, *, now: dt.datetime) -> EmailMessage:
    """The email for a feedback share to ``to``: text and HTML alternatives (Easy Read layout
    when the recipient needs it), ``Message-ID`` from the idempotency key."""
    recipient = share.recipient
    easy_read = bool(recipient and recipient.easy_read)
    name = _one_line(recipient.name) if recipient and recipient.name else None
    greeting = f"Dear {name}," if name else "Hello,"
    msg = EmailMessage()
    msg["Subject"] = _one_line(f"{sender.subject_prefix}{share.title}")
    msg["From"] = Address(display_name=_one_line(sender.name or ""), addr_spec=sender.address)
    msg["To"] = Address(display_name=name or "", addr_spec=to)
    if sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    msg["Date"] = format_datetime(now)
    domain = sender.address.rsplit("@", 1)[-1]
    msg["Message-ID"] = message_id(share.idempotency_key, domain)
    msg[KEY_HEADER] = key_header(share.idempotency_key)
    if recipient and recipient.language:
        msg["Content-Language"] = recipient.language
    msg.set_content(_plain(share, greeting, sender, easy_read))
    msg.add_alternative(_html(share, greeting, sender, easy_read), subtype="html")
    return msg
