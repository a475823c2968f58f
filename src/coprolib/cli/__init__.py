"""The ``coprolib`` command line: the group (``main``), the shared options (``session``), and
the built-in commands, each registered as a plugin and a thin layer over a documented
function. ``demo`` and ``doctor`` are the functions behind the commands of the same names."""

from coprolib.cli.main import (
    CoprolibGroup as CoprolibGroup,
)
from coprolib.cli.main import (
    build_cli as build_cli,
)
from coprolib.cli.main import (
    cli as cli,
)
from coprolib.cli.main import (
    error_line as error_line,
)
from coprolib.cli.main import (
    main as main,
)
