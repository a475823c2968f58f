"""coprolib-graphmail: feedback emails sent from a Microsoft 365 mailbox through Microsoft
Graph ``sendMail``, signed in app-only with ``Mail.Send`` (limited to that mailbox by an
application access policy), with the shared Entra ID credentials of coprolib-entra."""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_graphmail.adapter import GraphMailAdapter, GraphMailConfig

__all__ = ["GraphMailAdapter", "GraphMailConfig", "register_adapters"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``graph-mail`` destination adapter."""
    register("graph-mail", GraphMailAdapter)
