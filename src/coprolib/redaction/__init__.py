"""De-identification: the engine (``engine``) and the built-in recognisers (UK identifiers,
personal names), registered as plugins exactly as a third-party recogniser is: the engine asks
the ``register_recognizers`` hook and never names them."""

from coprolib.redaction.engine import (
    KNOWN_IDENTIFIER as KNOWN_IDENTIFIER,
)
from coprolib.redaction.engine import (
    LABELS as LABELS,
)
from coprolib.redaction.engine import (
    PLACEHOLDER_RE as PLACEHOLDER_RE,
)
from coprolib.redaction.engine import (
    KnownIdentifierRecognizer as KnownIdentifierRecognizer,
)
from coprolib.redaction.engine import (
    PatternRecognizer as PatternRecognizer,
)
from coprolib.redaction.engine import (
    Recognizer as Recognizer,
)
from coprolib.redaction.engine import (
    Redaction as Redaction,
)
from coprolib.redaction.engine import (
    Span as Span,
)
from coprolib.redaction.engine import (
    common_words as common_words,
)
from coprolib.redaction.engine import (
    find_spans as find_spans,
)
from coprolib.redaction.engine import (
    get_recognizers as get_recognizers,
)
from coprolib.redaction.engine import (
    identifier_terms as identifier_terms,
)
from coprolib.redaction.engine import (
    merge_spans as merge_spans,
)
from coprolib.redaction.engine import (
    redact as redact,
)
from coprolib.redaction.engine import (
    reset_recognizers as reset_recognizers,
)
