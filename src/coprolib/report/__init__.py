"""What people read: the board report (``build``, its sections in ``sections``) and each
teller's journey page (``journey``), rendered from Jinja2 templates with autoescaping on."""

from coprolib.report.build import (
    DEFAULT_TITLE as DEFAULT_TITLE,
)
from coprolib.report.build import (
    PALETTE as PALETTE,
)
from coprolib.report.build import (
    ReportSection as ReportSection,
)
from coprolib.report.build import (
    Series as Series,
)
from coprolib.report.build import (
    bar_chart as bar_chart,
)
from coprolib.report.build import (
    builtin_sections as builtin_sections,
)
from coprolib.report.build import (
    esc as esc,
)
from coprolib.report.build import (
    render_html as render_html,
)
from coprolib.report.build import (
    render_template as render_template,
)
from coprolib.report.build import (
    report_sections as report_sections,
)
from coprolib.report.build import (
    table as table,
)
from coprolib.report.build import (
    write_atomic as write_atomic,
)
from coprolib.report.build import (
    write_report as write_report,
)
