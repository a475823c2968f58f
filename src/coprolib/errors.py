"""The base of every error coprolib raises on purpose, and the exit codes the command line uses.

Every error the library raises for bad input, a bad configuration, an unusable ledger or a refused
request derives from :class:`CoprolibError`, so a host catches them all with one ``except``
clause, and ``coprolib`` turns them all into one line and an exit code in one place
(:class:`coprolib.cli.CoprolibGroup`). Each class also derives from the built-in exception it has
always been (``ValueError``, ``LookupError``...), so existing ``except`` clauses keep working.

This module imports nothing from coprolib: every stage can import it.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "CoprolibError"]

#: The command did what was asked and found nothing wrong.
EXIT_OK = 0
#: The command ran and found problems (invalid records, failed checks, undelivered jobs).
EXIT_PROBLEMS = 1
#: The command could not run as asked: a usage error, a configuration or ledger that cannot be
#: used, an input file that cannot be read, or a request the library refused.
EXIT_USAGE = 2


class CoprolibError(Exception):
    """Something coprolib refused or could not do; the message says what and what to do."""

    #: The exit code ``coprolib`` ends with when this error stops a command.
    exit_code: ClassVar[int] = EXIT_USAGE
