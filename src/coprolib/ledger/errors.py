"""The one error the ledger raises for bad input, bad state or a bad file."""

from __future__ import annotations

from coprolib.errors import CoprolibError


class LedgerError(CoprolibError):
    """Something the ledger refused or could not do.

    ``record`` names the record (``"story 's-1'"``) and ``field`` the field when the error is about
    one; the message always says what to do. Nothing was written when this is raised from a write.
    """

    def __init__(
        self, message: str, *, record: str | None = None, field: str | None = None
    ) -> None:
        where = ""
        if record and field:
            where = f"{record} field {field}: "
        elif record:
            where = f"{record}: "
        super().__init__(where + message)
        self.record = record
        self.field = field
        self.reason = message
