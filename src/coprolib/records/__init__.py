"""The records and how they travel: the attrs types (``model``), their enumerations
(``enums``), the cattrs converter (``convert``), bundles of records (``bundle``) and the
bundle's JSON Schema (``schema``). The first stage: everything else imports from here."""

from coprolib.records.model import (
    BUNDLE_TYPES as BUNDLE_TYPES,
)
from coprolib.records.model import (
    RECORD_NAMES as RECORD_NAMES,
)
from coprolib.records.model import (
    Accessibility as Accessibility,
)
from coprolib.records.model import (
    Activity as Activity,
)
from coprolib.records.model import (
    Consent as Consent,
)
from coprolib.records.model import (
    ConsentEvent as ConsentEvent,
)
from coprolib.records.model import (
    ConsentRef as ConsentRef,
)
from coprolib.records.model import (
    ConsentState as ConsentState,
)
from coprolib.records.model import (
    ConsentTerms as ConsentTerms,
)
from coprolib.records.model import (
    ContactDetails as ContactDetails,
)
from coprolib.records.model import (
    Contributor as Contributor,
)
from coprolib.records.model import (
    EvidenceRef as EvidenceRef,
)
from coprolib.records.model import (
    Feedback as Feedback,
)
from coprolib.records.model import (
    Insight as Insight,
)
from coprolib.records.model import (
    Involvement as Involvement,
)
from coprolib.records.model import (
    LivedAnswer as LivedAnswer,
)
from coprolib.records.model import (
    Outcome as Outcome,
)
from coprolib.records.model import (
    OutcomeEvent as OutcomeEvent,
)
from coprolib.records.model import (
    Proposal as Proposal,
)
from coprolib.records.model import (
    Quote as Quote,
)
from coprolib.records.model import (
    Receipt as Receipt,
)
from coprolib.records.model import (
    Recipient as Recipient,
)
from coprolib.records.model import (
    Recognition as Recognition,
)
from coprolib.records.model import (
    RecordError as RecordError,
)
from coprolib.records.model import (
    Share as Share,
)
from coprolib.records.model import (
    SharedQuote as SharedQuote,
)
from coprolib.records.model import (
    Story as Story,
)
