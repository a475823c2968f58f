"""Build ``northdale.json``: a fictional example bundle for the borough of Northdale.

Everyone here is invented: names, places, contact details (example.org, reserved 07700 900xxx
numbers, a fictional postcode area). It follows the shape of the story in the project's domain
notes: professionals gathered case studies, a theatre group turned them into short dramas, people
with lived experience advised, and the learning changed practice and contracts.

Run ``python examples/build_northdale.py`` to regenerate the JSON after changing the records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from coprolib.records import (
    Accessibility,
    Activity,
    Consent,
    ConsentEvent,
    ConsentTerms,
    ContactDetails,
    Contributor,
    EvidenceRef,
    Feedback,
    Insight,
    Outcome,
    OutcomeEvent,
    Quote,
    Story,
)
from coprolib.records.bundle import Bundle, dump_bundle
from coprolib.records.enums import (
    AbuseType as A,
)
from coprolib.records.enums import (
    Audience,
    ChangeDepth,
    ConsentEventType,
    ConsentMethod,
    DecisionBasis,
    DecisionHolder,
    FeedbackChannel,
    FeedbackKind,
    FeedbackStatus,
    IdentityLevel,
    InsightStatus,
    LadderRung,
    OutcomeKind,
    OutcomeStatus,
    Purpose,
    RiskLocation,
    RiskSource,
    SARDomain,
    StorySource,
    Support,
)

UTC = dt.UTC
P = Purpose


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day + "T10:00:00").replace(tzinfo=UTC)


def story(
    id: str, tellers: tuple[str, ...], text: str, quotes: dict[str, str], **kw: object
) -> Story:
    """A story whose quotes are given as exact phrases of its text."""
    qs = []
    for qid, phrase in quotes.items():
        start = text.index(phrase)
        qs.append(Quote(id=qid, start=start, end=start + len(phrase)))
    return Story(id=id, contributor_ids=tellers, text=text, quotes=tuple(qs), **kw)  # type: ignore[arg-type]


def given(day: str, **terms: object) -> ConsentEvent:
    return ConsentEvent(
        type=ConsentEventType.GIVEN,
        at=at(day),
        recorded_by="Northdale Healthwatch",
        terms=ConsentTerms(**terms),  # type: ignore[arg-type]
    )


BROAD = dict(
    purposes=(P.SERVICE_IMPROVEMENT, P.COMMISSIONING, P.TRAINING, P.BOARD_REPORTING),
    audiences=(Audience.INTERNAL, Audience.PARTNERS, Audience.BOARD),
)

contributors = (
    Contributor(
        id="p-amber",
        display_name="Amber",
        contact=ContactDetails(email="amber.fictional@example.org", phone="07700 900101"),
        feedback_channel=FeedbackChannel.EMAIL,
        supporting_org="Northdale Women's Aid (fictional)",
        known_identifiers=("Amber Wildermere", "Wildermere", "Jaydon", "Kestrel Rise"),
    ),
    Contributor(
        id="p-rowan",
        display_name="Rowan",
        contact=ContactDetails(
            postal_address="c/o Northdale Advocacy Hub, 1 Fictional Row, ND1 9ZZ"
        ),
        feedback_channel=FeedbackChannel.VIA_SUPPORTER,
        supporting_org="Northdale Advocacy Hub",
        accessibility=Accessibility(easy_read=True, large_print=True),
        known_identifiers=("Rowan Pellow", "Pellow", "Brackenfield Court"),
    ),
    Contributor(
        id="p-dev",
        display_name="Dev",
        contact=ContactDetails(phone="07700 900102"),
        feedback_channel=FeedbackChannel.SMS,
        known_identifiers=("Devinder Oakhart", "Oakhart"),
    ),
    Contributor(
        id="p-leigh",
        display_name="Leigh",
        wants_feedback=False,
        feedback_channel=FeedbackChannel.NONE,
        known_identifiers=("Leigh Fenwright",),
    ),
    Contributor(
        id="p-morgan",
        display_name="Morgan",
        contact=ContactDetails(email="morgan.fictional@example.org"),
        accessibility=Accessibility(language="cy"),
        known_identifiers=("Morgan Tregaron", "Tregaron", "Little Pennick"),
    ),
    Contributor(
        id="p-sam",
        display_name="Sam",
        contact=ContactDetails(email="sam.fictional@example.org"),
        known_identifiers=("Samir Holloway-Finch",),
    ),
    Contributor(
        id="p-taylor",
        display_name="Taylor",
        contact=ContactDetails(email="taylor.fictional@example.org"),
        known_identifiers=("Taylor Quennell", "Quennell"),
    ),
    Contributor(
        id="p-pat",
        display_name="Pat",
        feedback_channel=FeedbackChannel.VIA_SUPPORTER,
        supporting_org="Northdale Advocacy Hub",
        accessibility=Accessibility(easy_read=True),
        known_identifiers=("Patricia Gorse", "Gorse", "Heronsgate Care Home"),
    ),
    Contributor(
        id="p-hw-officer",
        display_name="Healthwatch engagement officer",
        wants_feedback=True,
        contact=ContactDetails(email="engagement.fictional@example.org"),
    ),
    Contributor(
        id="p-jo",
        display_name="Jo",
        contact=ContactDetails(email="jo.fictional@example.org"),
        known_identifiers=("Joanna Birchall",),
    ),
)

stories = (
    story(
        "s-01",
        ("p-amber",),
        "I was with him eleven years. Every agency saw a piece of it: the GP saw the bruises, "
        "the school saw Jaydon go quiet, housing saw the rent arrears. Nobody joined it up. "
        "What helped in the end was one worker who rang me back when she said she would.",
        {
            "q-joined": "Nobody joined it up.",
            "q-rang": "one worker who rang me back when she said she would",
        },
        source=StorySource.INTERVIEW,
        collected_on=dt.date(2025, 3, 4),
        collected_by="Northdale Healthwatch",
        title="Every agency saw a piece",
        themes=("joined-up working", "trust"),
        abuse_types=(A.DOMESTIC_ABUSE, A.PSYCHOLOGICAL),
        risk_location=RiskLocation.OWN_HOME,
        risk_source=RiskSource.OTHER_KNOWN,
        activity_id="a-drama",
    ),
    story(
        "s-02",
        ("p-rowan",),
        "People kept telling me to accept help, but the help was a leaflet and a phone number. "
        "I had to hit rock bottom before anyone came, and then six people came at once.",
        {"q-bottom": "I had to hit rock bottom before anyone came"},
        source=StorySource.DRAMA_RESPONSE,
        collected_on=dt.date(2025, 3, 18),
        collected_by="Northdale Advocacy Hub",
        title="Rock bottom",
        themes=("rock bottom", "self-neglect"),
        abuse_types=(A.SELF_NEGLECT,),
        risk_location=RiskLocation.OWN_HOME,
        activity_id="a-drama",
    ),
    story(
        "s-03",
        ("p-dev",),
        "My nephew took over my bank cards after my stroke. The bank noticed before social care did.",
        {},
        source=StorySource.INTERVIEW,
        collected_on=dt.date(2025, 4, 2),
        themes=("financial abuse", "joined-up working"),
        abuse_types=(A.FINANCIAL_OR_MATERIAL,),
        risk_source=RiskSource.OTHER_KNOWN,
    ),
    story(
        "s-04",
        ("p-leigh",),
        "The day centre closed and nobody checked where we all went. I stopped going out at all.",
        {},
        source=StorySource.WORKSHOP,
        collected_on=dt.date(2024, 5, 10),
        themes=("isolation", "trust"),
        abuse_types=(A.NEGLECT_AND_ACTS_OF_OMISSION,),
        risk_location=RiskLocation.IN_THE_COMMUNITY,
    ),
    story(
        "s-05",
        ("p-morgan",),
        "The support group was run by people who had been through it. That is why I went back.",
        {"q-back": "That is why I went back."},
        source=StorySource.PEER_GROUP,
        collected_on=dt.date(2025, 9, 1),
        themes=("peer support", "trust"),
        abuse_types=(A.DOMESTIC_ABUSE,),
    ),
    story(
        "s-06",
        ("p-sam",),
        "I was passed between the crisis team and the GP for three weeks. Each said it was the other.",
        {},
        source=StorySource.INTERVIEW,
        collected_on=dt.date(2025, 5, 20),
        themes=("joined-up working",),
        abuse_types=(A.NEGLECT_AND_ACTS_OF_OMISSION,),
        risk_location=RiskLocation.HOSPITAL_MENTAL_HEALTH,
        risk_source=RiskSource.SERVICE_PROVIDER,
    ),
    story(
        "s-07",
        ("p-taylor",),
        "Training that starts with a survivor speaking changes the room. People stop ticking boxes.",
        {"q-room": "changes the room"},
        source=StorySource.WRITTEN,
        collected_on=dt.date(2025, 6, 11),
        themes=("training", "trust"),
        abuse_types=(A.DOMESTIC_ABUSE,),
    ),
    story(
        "s-08",
        ("p-hw-officer",),
        "Case study (fictional composite): a man in his seventies living alone, hoarding, declining "
        "visits. Five agencies had contact in a year; none shared a plan. A joint visit after a fall "
        "was the first time everyone met.",
        {"q-joint": "A joint visit after a fall was the first time everyone met."},
        source=StorySource.CASE_STUDY,
        collected_on=dt.date(2025, 2, 12),
        collected_by="Northdale SAB prevention group",
        title="Five agencies, no plan",
        themes=("joined-up working", "self-neglect", "rock bottom"),
        abuse_types=(A.SELF_NEGLECT,),
        risk_location=RiskLocation.OWN_HOME,
        activity_id="a-drama",
    ),
    story(
        "s-09",
        ("p-jo",),
        "My neighbour is being kept in her flat by her son and he takes her pension every week.",
        {},
        source=StorySource.WORKSHOP,
        collected_on=dt.date(2025, 10, 3),
        themes=("financial abuse",),
        abuse_types=(A.FINANCIAL_OR_MATERIAL, A.PSYCHOLOGICAL),
        disclosure=True,
        activity_id="a-drama",
    ),
    story(
        "s-10",
        ("p-amber", "p-morgan"),
        "We wrote this together after the drama: when the worker stayed for a cup of tea instead of "
        "reading the form, we both told her more in ten minutes than in a year of appointments.",
        {"q-tea": "stayed for a cup of tea instead of reading the form"},
        source=StorySource.DRAMA_RESPONSE,
        collected_on=dt.date(2025, 3, 18),
        themes=("trust", "joined-up working"),
        abuse_types=(A.DOMESTIC_ABUSE,),
        activity_id="a-drama",
    ),
    story(
        "s-11",
        ("p-pat",),
        "Staff at the home decided things for Pat without asking. Her advocate noticed she ate "
        "nothing on the days her family visited.",
        {},
        source=StorySource.CASE_STUDY,
        collected_on=dt.date(2025, 7, 7),
        themes=("rock bottom", "care homes"),
        abuse_types=(A.ORGANISATIONAL, A.PSYCHOLOGICAL),
        risk_location=RiskLocation.CARE_HOME_RESIDENTIAL,
        risk_source=RiskSource.SERVICE_PROVIDER,
    ),
    story(
        "s-12",
        ("p-rowan",),
        "The new contract let the support worker visit weekly for a year, not six sessions. "
        "That is how trust got built.",
        {"q-weekly": "visit weekly for a year, not six sessions"},
        source=StorySource.INTERVIEW,
        collected_on=dt.date(2026, 2, 2),
        themes=("trust", "commissioning"),
        abuse_types=(A.SELF_NEGLECT,),
    ),
)

consents = (
    # Active, broad, pseudonymous with quotes: the story that travels furthest.
    Consent(
        id="c-01",
        contributor_id="p-amber",
        story_ids=("s-01", "s-10"),
        events=(
            given(
                "2025-03-04",
                **BROAD,
                identity_level=IdentityLevel.PSEUDONYMOUS,
                quotes_allowed=True,
            ),
        ),
    ),
    # Supported decision with an advocate, Easy Read form, review before sharing; one approval.
    Consent(
        id="c-02",
        contributor_id="p-rowan",
        story_ids=("s-02", "s-12"),
        basis=DecisionBasis.SUPPORTED_DECISION,
        support=Support.ADVOCATE,
        supported_by="Northdale Advocacy Hub",
        method=ConsentMethod.EASY_READ,
        events=(
            given("2025-03-18", **BROAD, quotes_allowed=True, review_before_sharing=True),
            ConsentEvent(
                type=ConsentEventType.APPROVED,
                at=at("2025-04-01"),
                recorded_by="Northdale Advocacy Hub",
                insight_id="i-02",
                # Rowan approved an earlier wording; the current text awaits review.
                text_digest=hashlib.sha256(b"earlier draft of i-02").hexdigest(),
            ),
        ),
    ),
    # Given, then withdrawn.
    Consent(
        id="c-03",
        contributor_id="p-dev",
        story_ids=("s-03",),
        method=ConsentMethod.VERBAL,
        events=(
            given("2025-04-02", **BROAD),
            ConsentEvent(
                type=ConsentEventType.WITHDRAWN,
                at=at("2026-01-15"),
                recorded_by="Northdale Healthwatch",
                reason="No longer wants the story used",
            ),
        ),
    ),
    # Expired.
    Consent(
        id="c-04",
        contributor_id="p-leigh",
        story_ids=("s-04",),
        events=(given("2024-05-10", **BROAD, expires=dt.date(2026, 5, 10)),),
    ),
    # Not before a future date (after a court case ends, say).
    Consent(
        id="c-05",
        contributor_id="p-morgan",
        story_ids=("s-05",),
        events=(
            given("2025-09-01", **BROAD, quotes_allowed=True, share_not_before=dt.date(2027, 3, 1)),
        ),
    ),
    # Morgan's consent for the story written with Amber.
    Consent(
        id="c-05b",
        contributor_id="p-morgan",
        story_ids=("s-10",),
        events=(given("2025-03-18", **BROAD, quotes_allowed=True),),
    ),
    # Internal audience only.
    Consent(
        id="c-06",
        contributor_id="p-sam",
        story_ids=("s-06",),
        events=(given("2025-05-20", purposes=BROAD["purposes"], audiences=(Audience.INTERNAL,)),),
    ),
    # Training purpose only.
    Consent(
        id="c-07",
        contributor_id="p-taylor",
        story_ids=("s-07",),
        events=(
            given(
                "2025-06-11",
                purposes=(P.TRAINING,),
                audiences=BROAD["audiences"],
                identity_level=IdentityLevel.NAMED,
                quotes_allowed=True,
            ),
        ),
    ),
    # A professional's case study, all audiences.
    Consent(
        id="c-08",
        contributor_id="p-hw-officer",
        story_ids=("s-08",),
        events=(
            given(
                "2025-02-12",
                purposes=BROAD["purposes"],
                audiences=(*BROAD["audiences"], Audience.PUBLIC),
                identity_level=IdentityLevel.ANONYMOUS,
                quotes_allowed=True,
            ),
        ),
    ),
    # Given, but the story is a safeguarding disclosure: it never goes as an insight.
    Consent(
        id="c-09",
        contributor_id="p-jo",
        story_ids=("s-09",),
        events=(given("2025-10-03", **BROAD),),
    ),
    # A best-interests decision: internal only unless an override is recorded.
    Consent(
        id="c-11",
        contributor_id="p-pat",
        story_ids=("s-11",),
        basis=DecisionBasis.BEST_INTERESTS,
        support=Support.ADVOCATE,
        supported_by="Northdale Advocacy Hub",
        events=(given("2025-07-07", **BROAD),),
    ),
)

insights = (
    Insight(
        id="i-01",
        title="Connect before you refer",
        summary="People describe every agency holding a piece of the picture and nobody joining it "
        "up. What helped was one worker who kept in touch and did what they said.",
        recommendation="Name a lead professional at first contact who stays in touch until a joint "
        "plan exists.",
        domain=SARDomain.INTERAGENCY_WORKING,
        themes=("joined-up working", "trust"),
        evidence=(
            EvidenceRef(story_id="s-01", quote_ids=("q-joined", "q-rang")),
            EvidenceRef(story_id="s-08", quote_ids=("q-joint",)),
            EvidenceRef(story_id="s-10", quote_ids=("q-tea",)),
            EvidenceRef(story_id="s-06"),
        ),
        status=InsightStatus.AGREED,
        authored_by="SAB prevention sub-group",
        created_on=dt.date(2025, 5, 1),
    ),
    Insight(
        id="i-02",
        title="Rock bottom: come together at once",
        summary="Some people only accept help at crisis point. Then agencies must act together "
        "that day, not in sequence.",
        recommendation="A same-day multi-agency response protocol for people who were declining "
        "support and now ask for it.",
        domain=SARDomain.DIRECT_PRACTICE,
        themes=("rock bottom", "self-neglect"),
        evidence=(
            EvidenceRef(story_id="s-02", quote_ids=("q-bottom",)),
            EvidenceRef(story_id="s-08"),
            EvidenceRef(story_id="s-11"),
        ),
        status=InsightStatus.AGREED,
        authored_by="SAB prevention sub-group",
        created_on=dt.date(2025, 5, 1),
    ),
    Insight(
        id="i-03",
        title="Build trust, take time",
        summary="Short, target-driven contracts end support just as trust begins.",
        recommendation="Voluntary-sector contracts measure relationships sustained, not sessions "
        "delivered.",
        domain=SARDomain.ORGANISATIONAL_SUPPORT,
        themes=("trust", "commissioning"),
        evidence=(
            EvidenceRef(story_id="s-03"),
            EvidenceRef(story_id="s-04"),
            EvidenceRef(story_id="s-05", quote_ids=("q-back",)),
            EvidenceRef(story_id="s-12", quote_ids=("q-weekly",)),
        ),
        status=InsightStatus.AGREED,
        authored_by="Commissioning lead",
        created_on=dt.date(2025, 10, 1),
    ),
    Insight(
        id="i-04",
        title="Survivors lead the training",
        summary="Training that begins with a survivor's voice changes how staff listen.",
        recommendation="Co-deliver domestic abuse training with paid survivor trainers.",
        domain=SARDomain.DIRECT_PRACTICE,
        themes=("training", "peer support"),
        evidence=(
            EvidenceRef(story_id="s-07", quote_ids=("q-room",)),
            EvidenceRef(story_id="s-01"),
        ),
        status=InsightStatus.AGREED,
        authored_by="Domestic Abuse Partnership",
        created_on=dt.date(2025, 7, 1),
    ),
    Insight(
        id="i-05",
        title="Board hears lived experience first",
        summary="Board meetings open with a lived-experience item, not close with one.",
        recommendation="Reorder the SAB agenda.",
        domain=SARDomain.SAB_GOVERNANCE,
        themes=("governance",),
        evidence=(EvidenceRef(story_id="s-09"),),
        status=InsightStatus.DRAFT,
        authored_by="SAB business manager",
    ),
)

outcomes = (
    Outcome(
        id="o-01",
        title="Practice note: name a lead professional",
        kind=OutcomeKind.PRACTICE_GUIDANCE,
        depth=ChangeDepth.TINKERING,
        insight_ids=("i-01",),
        owner="Adult Social Care practice lead",
        timeline=(
            OutcomeEvent(on=dt.date(2025, 6, 1), status=OutcomeStatus.PROPOSED),
            OutcomeEvent(
                on=dt.date(2025, 7, 15),
                status=OutcomeStatus.IMPLEMENTED,
                note="Practice note issued to duty teams",
            ),
        ),
    ),
    Outcome(
        id="o-02",
        title="Voluntary-sector contract rewritten: build trust, take time",
        kind=OutcomeKind.CONTRACT_SPECIFICATION,
        depth=ChangeDepth.SYSTEM,
        insight_ids=("i-03",),
        owner="Head of Commissioning",
        due=dt.date(2026, 4, 1),
        description="Outcome measures changed from sessions delivered to relationships sustained.",
        timeline=(
            OutcomeEvent(on=dt.date(2025, 10, 20), status=OutcomeStatus.AGREED),
            OutcomeEvent(on=dt.date(2026, 4, 1), status=OutcomeStatus.IMPLEMENTED),
            OutcomeEvent(
                on=dt.date(2026, 10, 1),
                status=OutcomeStatus.EVIDENCED,
                note="Six-month review: fewer repeat referrals",
                evidence=("Commissioning review, October 2026",),
            ),
        ),
    ),
    Outcome(
        id="o-03",
        title="Same-day multi-agency response",
        kind=OutcomeKind.SERVICE_DESIGN,
        depth=ChangeDepth.SERVICE,
        insight_ids=("i-02",),
        owner="SAB prevention sub-group chair",
        due=dt.date(2027, 1, 31),
        timeline=(
            OutcomeEvent(on=dt.date(2025, 9, 1), status=OutcomeStatus.AGREED),
            OutcomeEvent(on=dt.date(2026, 3, 1), status=OutcomeStatus.IN_PROGRESS),
        ),
    ),
    Outcome(
        id="o-04",
        title="Paid survivor trainers",
        kind=OutcomeKind.TRAINING,
        depth=ChangeDepth.PRACTICE,
        insight_ids=("i-04",),
        owner="Workforce development",
        timeline=(
            OutcomeEvent(on=dt.date(2025, 8, 1), status=OutcomeStatus.PROPOSED),
            OutcomeEvent(
                on=dt.date(2025, 11, 1),
                status=OutcomeStatus.NOT_ADOPTED,
                note="No budget this year; peer trainers to be volunteers instead, "
                "reviewed next year",
            ),
        ),
    ),
)

feedback = (
    Feedback(
        id="f-01",
        contributor_id="p-amber",
        kind=FeedbackKind.SCHEDULED,
        channel=FeedbackChannel.EMAIL,
        status=FeedbackStatus.DONE,
        due=dt.date(2025, 5, 10),
        story_ids=("s-01",),
        insight_id="i-01",
        sent_on=dt.date(2025, 5, 8),
        message="On 15 May your story will be shared with the safeguarding partnership.",
    ),
    Feedback(
        id="f-02",
        contributor_id="p-rowan",
        kind=FeedbackKind.CHANGE_UPDATE,
        channel=FeedbackChannel.VIA_SUPPORTER,
        status=FeedbackStatus.OWED,
        due=dt.date(2026, 10, 31),
        story_ids=("s-12",),
        outcome_id="o-02",
    ),
)

activities = (
    Activity(
        id="a-drama",
        title="Forum theatre: what could we have done?",
        held_on=dt.date(2025, 3, 18),
        rung=LadderRung.CO_PRODUCTION,
        decisions_held_by=DecisionHolder.SHARED,
        described_as="co-production",
        participants=34,
        contributor_ids=("p-amber", "p-rowan", "p-morgan", "p-jo"),
        notes="Case studies turned into short dramas; people with lived experience advised at "
        "arm's length; professionals listened.",
    ),
    Activity(
        id="a-survey",
        title="Carers' survey on day services",
        held_on=dt.date(2025, 11, 5),
        rung=LadderRung.CONSULTATION,
        decisions_held_by=DecisionHolder.PROFESSIONALS,
        described_as="co-production",
        participants=212,
    ),
)

bundle = Bundle(
    contributors=contributors,
    stories=stories,
    consents=consents,
    insights=insights,
    outcomes=outcomes,
    feedback=feedback,
    activities=activities,
)

if __name__ == "__main__":
    out = (
        Path(__file__).resolve().parent.parent / "src" / "coprolib" / "examples" / "northdale.json"
    )
    dump_bundle(bundle, out)
    print(f"wrote {out}: {bundle.counts()}")
