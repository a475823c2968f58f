"""coprolib-sharepoint: two Microsoft 365 destinations for a board's own workspace.

* ``sharepoint-list``: shares as items of a SharePoint list through Microsoft Graph, found by an
  indexed external-key column (search, then create or update), JSON batches of 20, deleted on
  retraction (:mod:`coprolib_sharepoint.sharepoint`).
* ``teams-workflow``: an Adaptive Card announcing each newly shared insight in a Teams channel
  through a Power Automate Workflows webhook; cannot retract, so a follow-up card says it was
  withdrawn and a compensating action is recorded (:mod:`coprolib_sharepoint.teams`).
"""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_sharepoint.sharepoint import SharePointListAdapter, SharePointListConfig
from coprolib_sharepoint.teams import TeamsWorkflowAdapter, TeamsWorkflowConfig

__all__ = [
    "SharePointListAdapter",
    "SharePointListConfig",
    "TeamsWorkflowAdapter",
    "TeamsWorkflowConfig",
    "register_adapters",
]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``sharepoint-list`` and ``teams-workflow`` destination adapters."""
    register("sharepoint-list", SharePointListAdapter)
    register("teams-workflow", TeamsWorkflowAdapter)
