"""coprolib-email: feedback to contributors by email over SMTP.

STARTTLS or implicit TLS (always verified; ``ca_file`` adds a private authority), optional login,
plain text and HTML alternatives, an Easy Read layout when the recipient needs it, and a
``Message-ID`` derived from the share's idempotency key. Email cannot be recalled: retraction
records the compensating action for a person. :mod:`coprolib_email.testing` (in the source
tree only, not in the wheel) is a real aiosmtpd server for tests.
"""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_email.adapter import EmailAdapter, EmailConfig

__all__ = ["EmailAdapter", "EmailConfig", "register_adapters"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``email`` destination adapter."""
    register("email", EmailAdapter)
