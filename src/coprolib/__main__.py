"""``python -m coprolib``: the same as the ``coprolib`` command."""

from coprolib.cli import main

main()
