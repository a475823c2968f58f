"""coprolib-notify: feedback to contributors through GOV.UK Notify (email, text message, letter).

Feedback shares (``Share.kind == "feedback"``) are sent with the official
``notifications-python-client``: a template id per feedback kind and channel, personalisation
from the share (name, title, message, and address lines for letters), and ``reference`` made
from the share's idempotency key so that Notify never takes it for personal data
(:func:`~coprolib_notify.adapter.reference_for`), looked up before every send so a retry never
sends twice. Notify cannot recall a message: retraction records the compensating action for a
person. :mod:`coprolib_notify.testing` (in the source tree only, not
in the wheel) is a Notify API subset for tests.
"""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_notify.adapter import NotifyAdapter, NotifyConfig, TemplateIds

__all__ = ["NotifyAdapter", "NotifyConfig", "TemplateIds", "register_adapters"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``govuk-notify`` destination adapter."""
    register("govuk-notify", NotifyAdapter)
