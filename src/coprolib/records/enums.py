"""The vocabularies coprolib records use, as string enumerations.

Values are the strings written in bundles and the ledger. Orderings that matter (identity level,
change depth, ladder rung) are explicit: compare with ``<`` and ``>``.
"""

from __future__ import annotations

import enum


class Purpose(enum.StrEnum):
    """What a story may be used for."""

    SERVICE_IMPROVEMENT = "service_improvement"
    COMMISSIONING = "commissioning"
    TRAINING = "training"
    PRACTICE_GUIDANCE = "practice_guidance"
    POLICY = "policy"
    BOARD_REPORTING = "board_reporting"
    RESEARCH = "research"
    PUBLICATION = "publication"
    PEER_SUPPORT = "peer_support"


class Audience(enum.StrEnum):
    """Who may see what is shared: the collecting organisation, partner agencies, the SAB, anyone."""

    INTERNAL = "internal"
    PARTNERS = "partners"
    BOARD = "board"
    PUBLIC = "public"


class _Ranked(enum.StrEnum):
    """A string enumeration whose members are ordered by their position in the class."""

    @property
    def rank(self) -> int:
        """Position in the ordering, starting at 0."""
        return list(type(self)).index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.rank >= other.rank

    def __hash__(self) -> int:
        return str.__hash__(self)


class IdentityLevel(_Ranked):
    """How identifiable a contributor may be: anonymous < pseudonymous < named."""

    ANONYMOUS = "anonymous"
    PSEUDONYMOUS = "pseudonymous"
    NAMED = "named"


class DecisionBasis(enum.StrEnum):
    """How a consent decision was made (Mental Capacity Act 2005)."""

    OWN_CONSENT = "own_consent"
    SUPPORTED_DECISION = "supported_decision"
    ATTORNEY_OR_DEPUTY = "attorney_or_deputy"
    BEST_INTERESTS = "best_interests"


class Support(enum.StrEnum):
    """Who supported the person when they decided, if anyone."""

    NONE = "none"
    ADVOCATE = "advocate"
    FAMILY = "family"
    FRIEND = "friend"
    SUPPORT_WORKER = "support_worker"


class ConsentMethod(enum.StrEnum):
    """How consent was given."""

    WRITTEN = "written"
    VERBAL = "verbal"
    EASY_READ = "easy_read"
    ONLINE = "online"
    RECORDED_AUDIO = "recorded_audio"


class ConsentEventType(enum.StrEnum):
    """What happened to a consent. Events append; nothing is updated in place."""

    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    RENEWED = "renewed"
    OVERRIDE = "override"
    APPROVED = "approved"


class AbuseType(enum.StrEnum):
    """Types of abuse in the NHS England Safeguarding Adults Collection (SAC)."""

    PHYSICAL = "physical"
    SEXUAL = "sexual"
    PSYCHOLOGICAL = "psychological"
    FINANCIAL_OR_MATERIAL = "financial_or_material"
    DISCRIMINATORY = "discriminatory"
    ORGANISATIONAL = "organisational"
    NEGLECT_AND_ACTS_OF_OMISSION = "neglect_and_acts_of_omission"
    DOMESTIC_ABUSE = "domestic_abuse"
    SEXUAL_EXPLOITATION = "sexual_exploitation"
    MODERN_SLAVERY = "modern_slavery"
    SELF_NEGLECT = "self_neglect"


class RiskLocation(enum.StrEnum):
    """Location of risk (SAC)."""

    OWN_HOME = "own_home"
    IN_THE_COMMUNITY = "in_the_community"
    COMMUNITY_SERVICE = "community_service"
    CARE_HOME_NURSING = "care_home_nursing"
    CARE_HOME_RESIDENTIAL = "care_home_residential"
    HOSPITAL_ACUTE = "hospital_acute"
    HOSPITAL_MENTAL_HEALTH = "hospital_mental_health"
    HOSPITAL_COMMUNITY = "hospital_community"
    OTHER = "other"


class RiskSource(enum.StrEnum):
    """Source of risk (SAC)."""

    SERVICE_PROVIDER = "service_provider"
    OTHER_KNOWN = "other_known"
    OTHER_UNKNOWN = "other_unknown"


class SARDomain(enum.StrEnum):
    """Learning domains used by national analyses of Safeguarding Adult Reviews."""

    DIRECT_PRACTICE = "direct_practice"
    INTERAGENCY_WORKING = "interagency_working"
    ORGANISATIONAL_SUPPORT = "organisational_support"
    SAB_GOVERNANCE = "sab_governance"
    NATIONAL_LEGAL_POLICY = "national_legal_policy"


class LadderRung(enum.IntEnum):
    """The Think Local Act Personal ladder of co-production, 1 (coercion) to 7 (co-production)."""

    COERCION = 1
    EDUCATING = 2
    INFORMING = 3
    CONSULTATION = 4
    ENGAGEMENT = 5
    CO_DESIGN = 6
    CO_PRODUCTION = 7


class DecisionHolder(enum.StrEnum):
    """Who held the decisions in a co-production activity."""

    PROFESSIONALS = "professionals"
    SHARED = "shared"
    LIVED_EXPERIENCE = "lived_experience"


class StorySource(enum.StrEnum):
    """Where a story came from."""

    INTERVIEW = "interview"
    WORKSHOP = "workshop"
    DRAMA_RESPONSE = "drama_response"
    CASE_STUDY = "case_study"
    SURVEY = "survey"
    WRITTEN = "written"
    PEER_GROUP = "peer_group"


class InsightStatus(enum.StrEnum):
    """Where an insight is in its life: only agreed insights are planned for sharing."""

    DRAFT = "draft"
    AGREED = "agreed"
    RETIRED = "retired"


class OutcomeKind(enum.StrEnum):
    """What kind of change an insight led to."""

    COMMISSIONING_PRIORITY = "commissioning_priority"
    SERVICE_DESIGN = "service_design"
    CONTRACT_SPECIFICATION = "contract_specification"
    PRACTICE_GUIDANCE = "practice_guidance"
    TRAINING = "training"
    PEER_SUPPORT = "peer_support"
    POLICY = "policy"
    CULTURE = "culture"


class ChangeDepth(_Ranked):
    """How deep a change went, from "tinkering around the edges" to system change."""

    TINKERING = "tinkering"
    PRACTICE = "practice"
    SERVICE = "service"
    SYSTEM = "system"


class OutcomeStatus(enum.StrEnum):
    """The lifecycle of an outcome."""

    PROPOSED = "proposed"
    AGREED = "agreed"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    EVIDENCED = "evidenced"
    NOT_ADOPTED = "not_adopted"


class FeedbackKind(enum.StrEnum):
    """What a contributor is told: before a share, after it, as change happens, or why not."""

    SCHEDULED = "scheduled"
    SHARED = "shared"
    CHANGE_UPDATE = "change_update"
    NOT_DONE = "not_done"
    WITHDRAWAL_CONFIRMED = "withdrawal_confirmed"


class FeedbackChannel(enum.StrEnum):
    """How a contributor wants to hear back."""

    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    PHONE = "phone"
    IN_PERSON = "in_person"
    VIA_SUPPORTER = "via_supporter"
    NONE = "none"


class FeedbackStatus(enum.StrEnum):
    """Where a feedback obligation stands."""

    OWED = "owed"
    SENT = "sent"
    DONE = "done"
    CANCELLED = "cancelled"


class ShareKind(enum.StrEnum):
    """What a share carries: an insight for practitioners, or feedback for a contributor."""

    INSIGHT = "insight"
    FEEDBACK = "feedback"


class LivedVerdict(enum.StrEnum):
    """What lived experience said of a professionals' proposal: it ``confirmed`` it, ``changed``
    it, ``overturned`` it, or said something ``new`` that nobody had proposed."""

    CONFIRMED = "confirmed"
    CHANGED = "changed"
    OVERTURNED = "overturned"
    NEW = "new"


class InvolvementRole(_Ranked):
    """The part a person with lived experience took in an activity, from taking part to being
    employed for their expertise."""

    PARTICIPANT = "participant"
    ADVISER = "adviser"
    CO_FACILITATOR = "co_facilitator"
    CO_RESEARCHER = "co_researcher"
    TRAINER = "trainer"
    PAID_PEER_WORKER = "paid_peer_worker"


class RecognitionKind(enum.StrEnum):
    """How a person's time and expertise were recognised."""

    PAYMENT = "payment"
    VOUCHER = "voucher"
    EXPENSES = "expenses"
    GIFT = "gift"
    CERTIFICATE = "certificate"
    DECLINED = "declined"


class PaymentMethod(enum.StrEnum):
    """How a payment or voucher reached the person (``none`` for recognition without money)."""

    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    CHEQUE = "cheque"
    VOUCHER = "voucher"
    PAYROLL = "payroll"
    NONE = "none"
