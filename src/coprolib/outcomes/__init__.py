"""Outcomes: the lifecycle of a change (``model``) and recording it in the ledger with the
feedback it owes (``recording``)."""

from coprolib.outcomes.model import (
    DEFAULT_DUE_DAYS as DEFAULT_DUE_DAYS,
)
from coprolib.outcomes.model import (
    FINAL_STATUSES as FINAL_STATUSES,
)
from coprolib.outcomes.model import (
    TRANSITIONS as TRANSITIONS,
)
from coprolib.outcomes.model import (
    LifecycleError as LifecycleError,
)
from coprolib.outcomes.model import (
    StatusSpan as StatusSpan,
)
from coprolib.outcomes.model import (
    advance as advance,
)
from coprolib.outcomes.model import (
    allowed_next as allowed_next,
)
from coprolib.outcomes.model import (
    change_feedback as change_feedback,
)
from coprolib.outcomes.model import (
    check_timeline as check_timeline,
)
from coprolib.outcomes.model import (
    contributors_behind as contributors_behind,
)
from coprolib.outcomes.model import (
    propose as propose,
)
from coprolib.outcomes.model import (
    reached as reached,
)
from coprolib.outcomes.model import (
    time_in_status as time_in_status,
)
