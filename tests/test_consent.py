"""The consent gate: every built-in rule's refusal and reason, the consent_veto hook, and
hypothesis properties (default deny, scope, narrowing, withdrawal, dates)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coprolib.consent import Decision, InForce, ShareRequest, evaluate
from coprolib.hookspecs import hookimpl
from coprolib.plugins import PluginLoadError, get_plugin_manager
from coprolib.records import Consent, ConsentEvent, ConsentTerms, Story
from coprolib.records.enums import (
    Audience,
    ConsentEventType,
    DecisionBasis,
    IdentityLevel,
    Purpose,
    StorySource,
    Support,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, 9, tzinfo=UTC)
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=UTC)


def story(sid: str = "s-1", tellers: tuple[str, ...] = ("p-1",), **kw: object) -> Story:
    return Story(
        id=sid,
        contributor_ids=tellers,
        text="A fictional story about waiting for help.",
        source=StorySource.INTERVIEW,
        collected_on=dt.date(2025, 11, 3),
        **kw,  # type: ignore[arg-type]
    )


def terms(**kw: object) -> ConsentTerms:
    base: dict[str, object] = {
        "purposes": (Purpose.SERVICE_IMPROVEMENT, Purpose.TRAINING),
        "audiences": (Audience.INTERNAL, Audience.PARTNERS),
        "identity_level": IdentityLevel.PSEUDONYMOUS,
        "quotes_allowed": True,
    }
    base.update(kw)
    return ConsentTerms(**base)  # type: ignore[arg-type]


def consent(
    cid: str = "c-1",
    who: str = "p-1",
    *events: ConsentEvent,
    t: ConsentTerms | None = None,
    **kw: object,
) -> Consent:
    given_ev = ConsentEvent(type=ConsentEventType.GIVEN, at=T0, terms=t or terms())
    return Consent(id=cid, contributor_id=who, events=(given_ev, *events), **kw)  # type: ignore[arg-type]


def request(**kw: object) -> ShareRequest:
    base: dict[str, object] = {
        "purpose": Purpose.SERVICE_IMPROVEMENT,
        "audience": Audience.PARTNERS,
        "destination": "dynamics-partners",
        "moment": NOW,
        "identity_level": IdentityLevel.NAMED,
        "quotes": True,
    }
    base.update(kw)
    return ShareRequest(**base)  # type: ignore[arg-type]


def refused(d: Decision, *words: str) -> None:
    assert not d.allowed, d
    text = " | ".join(d.reasons)
    for w in words:
        assert w in text, (w, text)


# --- each rule ----------------------------------------------------------------------------


def test_allowed_grants_the_least_of_request_consent_and_destination() -> None:
    d = evaluate(story(), [consent()], request())
    assert d.allowed and d.reasons == ()
    assert d.identity_level is IdentityLevel.PSEUDONYMOUS
    assert d.quotes is True
    assert [(r.consent_id, r.version) for r in d.consent_refs] == [("c-1", 1)]
    d = evaluate(
        story(), [consent()], request(identity_level=IdentityLevel.ANONYMOUS, quotes=False)
    )
    assert d.allowed and d.identity_level is IdentityLevel.ANONYMOUS and d.quotes is False
    d = evaluate(story(), [consent(t=terms(quotes_allowed=False))], request())
    assert d.allowed and d.quotes is False


def test_default_deny_without_consent() -> None:
    refused(evaluate(story(), [], request()), "s-1", "no consent from contributor p-1")
    other = consent(who="p-2")
    refused(evaluate(story(), [other], request()), "no consent from contributor p-1")
    only_other_story = consent(story_ids=("s-9",))
    refused(evaluate(story(), [only_other_story], request()), "no consent")


def test_refused_and_not_yet_given() -> None:
    c = Consent(
        id="c-1", contributor_id="p-1", events=(ConsentEvent(type=ConsentEventType.REFUSED, at=T0),)
    )
    refused(evaluate(story(), [c], request()), "p-1 refused consent (c-1)")
    refused(
        evaluate(story(), [consent()], request(moment=T0 - dt.timedelta(days=1))),
        "c-1 was not yet given",
    )


def test_audience_outside_scope_reason_in_plain_words() -> None:
    c = consent("c-3", t=terms(audiences=(Audience.INTERNAL,)))
    d = evaluate(story("s-12"), [c], request())
    assert d.reasons == (
        "story s-12: consent c-3 allows audience 'internal' only; "
        "destination 'dynamics-partners' is 'partners'",
    )


def test_every_purpose_the_destination_serves_must_be_consented() -> None:
    c = consent(t=terms(purposes=(Purpose.TRAINING,)))
    refused(
        evaluate(
            story(), [c], request(purpose=Purpose.TRAINING, purposes=(Purpose.COMMISSIONING,))
        ),
        "allows purposes 'training' only",
        "'commissioning'",
    )
    assert evaluate(story(), [c], request(purpose=Purpose.TRAINING)).allowed


def test_denied_destination() -> None:
    c = consent(t=terms(denied_destinations=("dynamics-partners",)))
    refused(evaluate(story(), [c], request()), "never to share with 'dynamics-partners'")
    assert evaluate(story(), [c], request(destination="other")).allowed


def test_share_not_before_and_expiry() -> None:
    c = consent(t=terms(share_not_before=dt.date(2026, 7, 1), expires=dt.date(2026, 12, 31)))
    refused(evaluate(story(), [c], request()), "not before 2026-07-01", "it is 2026-06-01")
    assert evaluate(story(), [c], request(moment=dt.datetime(2026, 7, 1, tzinfo=UTC))).allowed
    assert evaluate(story(), [c], request(moment=dt.datetime(2026, 12, 31, 23, tzinfo=UTC))).allowed
    refused(
        evaluate(story(), [c], request(moment=dt.datetime(2027, 1, 1, tzinfo=UTC))),
        "c-1 expired on 2026-12-31",
    )
    ev = ConsentEvent(type=ConsentEventType.EXPIRED, at=dt.datetime(2026, 3, 2, tzinfo=UTC))
    refused(evaluate(story(), [consent("c-1", "p-1", ev)], request()), "expired on 2026-03-02")


def test_withdrawn_whole_and_narrowed() -> None:
    whole = ConsentEvent(
        type=ConsentEventType.WITHDRAWN,
        at=dt.datetime(2026, 4, 1, tzinfo=UTC),
        reason="changed mind",
    )
    c = consent("c-1", "p-1", whole)
    refused(evaluate(story(), [c], request()), "p-1 withdrew consent c-1 on 2026-04-01")
    assert evaluate(story(), [c], request(moment=dt.datetime(2026, 3, 1, tzinfo=UTC))).allowed
    narrow = ConsentEvent(
        type=ConsentEventType.WITHDRAWN,
        at=dt.datetime(2026, 4, 1, tzinfo=UTC),
        audiences=(Audience.PARTNERS,),
    )
    c = consent("c-1", "p-1", narrow)
    refused(evaluate(story(), [c], request()), "allows audience 'internal' only")
    assert evaluate(story(), [c], request(audience=Audience.INTERNAL)).allowed


def _approved(digest: str, insight: str = "i-1") -> ConsentEvent:
    return ConsentEvent(
        type=ConsentEventType.APPROVED,
        at=dt.datetime(2026, 5, 1, tzinfo=UTC),
        insight_id=insight,
        text_digest=digest,
    )


def test_review_before_sharing_needs_approval_of_this_text() -> None:
    t = terms(review_before_sharing=True)
    req = request(insight_id="i-1", insight_text_digest="abc")
    refused(evaluate(story(), [consent(t=t)], req), "review", "i-1 is not yet approved")
    refused(evaluate(story(), [consent(t=t)], request()), "names no insight text")
    ok = consent("c-1", "p-1", _approved("abc"), t=t)
    assert evaluate(story(), [ok], req).allowed
    stale = consent("c-1", "p-1", _approved("old"), t=t)
    refused(evaluate(story(), [stale], req), "approved an earlier text", "review pending")
    other_insight = consent("c-1", "p-1", _approved("abc", "i-2"), t=t)
    refused(evaluate(story(), [other_insight], req), "not yet approved")


def test_disclosure_never_goes() -> None:
    refused(evaluate(story(disclosure=True), [consent()], request()), "safeguarding disclosure")


def test_every_teller_must_consent() -> None:
    s = story(tellers=("p-1", "p-2"))
    refused(evaluate(s, [consent()], request()), "told by 2 people", "p-2 (no consent)")
    both = [consent(), consent("c-2", "p-2")]
    d = evaluate(s, both, request())
    assert d.allowed
    assert {r.consent_id for r in d.consent_refs} == {"c-1", "c-2"}
    narrower = [consent(), consent("c-2", "p-2", t=terms(identity_level=IdentityLevel.ANONYMOUS))]
    assert evaluate(s, narrower, request()).identity_level is IdentityLevel.ANONYMOUS
    wd = ConsentEvent(type=ConsentEventType.WITHDRAWN, at=T0 + dt.timedelta(days=1))
    refused(evaluate(s, [consent(), consent("c-2", "p-2", wd)], request()), "p-2 withdrew")


def test_best_interests_stays_internal_without_override() -> None:
    c = consent(basis=DecisionBasis.BEST_INTERESTS)
    refused(evaluate(story(), [c], request()), "best-interests decision", "no override")
    d = evaluate(story(), [c], request(audience=Audience.INTERNAL))
    assert d.allowed and d.overrides == ()
    ov = ConsentEvent(
        type=ConsentEventType.OVERRIDE,
        at=dt.datetime(2026, 2, 1, tzinfo=UTC),
        reason="the board needs this learning",
        approver="Head of Safeguarding",
    )
    c = consent("c-1", "p-1", ov, basis=DecisionBasis.BEST_INTERESTS)
    d = evaluate(story(), [c], request())
    assert d.allowed
    assert [(cid, ev.approver) for cid, ev in d.overrides] == [("c-1", "Head of Safeguarding")]


def test_story_specific_consent_beats_blanket_consent() -> None:
    blanket = consent("c-1", t=terms(audiences=(Audience.INTERNAL,)))
    specific = Consent(
        id="c-2",
        contributor_id="p-1",
        story_ids=("s-1",),
        events=(
            ConsentEvent(type=ConsentEventType.GIVEN, at=T0 - dt.timedelta(days=9), terms=terms()),
        ),
    )
    assert evaluate(story(), [blanket, specific], request()).allowed
    refused(evaluate(story("s-2"), [blanket, specific], request()), "'internal' only")


def test_request_needs_purpose_and_timezone() -> None:
    with pytest.raises(ValueError, match="purpose"):
        ShareRequest(audience=Audience.INTERNAL, destination="d", moment=NOW)
    with pytest.raises(ValueError, match="time zone"):
        request(moment=dt.datetime(2026, 1, 1))


# --- the hook -----------------------------------------------------------------------------


class _NoSharingTheme:
    """A local rule: stories tagged 'no-sharing' never go anywhere."""

    @staticmethod
    @hookimpl
    def consent_veto(
        story: Story, consents: Sequence[InForce], request: ShareRequest
    ) -> str | None:
        if "no-sharing" in story.themes:
            return f"story {story.id}: tagged no-sharing by the local team"
        return None


class _Broken:
    @staticmethod
    @hookimpl
    def consent_veto(story: Story) -> str | None:
        raise RuntimeError("boom")


class _AlwaysNone:
    @staticmethod
    @hookimpl
    def consent_veto(request: ShareRequest) -> str | None:
        return None


def test_hook_consent_veto() -> None:
    pm = get_plugin_manager()
    plugin = _NoSharingTheme()
    pm.register(plugin, name="no-sharing-theme")
    try:
        refused(
            evaluate(story(themes=("no-sharing",)), [consent()], request()),
            "tagged no-sharing by the local team",
        )
        assert evaluate(story(), [consent()], request()).allowed
    finally:
        pm.unregister(plugin)
    assert evaluate(story(themes=("no-sharing",)), [consent()], request()).allowed


def test_a_failing_rule_refuses_and_a_silent_rule_cannot_allow() -> None:
    pm = get_plugin_manager()
    broken, silent = _Broken(), _AlwaysNone()
    pm.register(broken, name="broken-rule")
    pm.register(silent, name="silent-rule")
    try:
        refused(evaluate(story(), [consent()], request()), "rule broken-rule failed", "boom")
    finally:
        pm.unregister(broken)
    try:
        refused(evaluate(story(), [], request()), "no consent")
        c = consent(t=terms(audiences=(Audience.INTERNAL,)))
        refused(evaluate(story(), [c], request()), "'internal' only")
    finally:
        pm.unregister(silent)


def test_a_failing_rule_is_raised_naming_its_plugin_in_strict_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pm = get_plugin_manager()
    broken = _Broken()
    pm.register(broken, name="broken-rule")
    monkeypatch.setenv("COPROLIB_STRICT_PLUGINS", "1")
    try:
        with pytest.raises(PluginLoadError, match="'broken-rule' failed in consent_veto"):
            evaluate(story(), [consent()], request())
    finally:
        pm.unregister(broken)


def test_default_deny_holds_even_if_built_in_rules_are_removed() -> None:
    pm = get_plugin_manager()
    names = [
        n
        for n in (pm.get_name(impl.plugin) for impl in pm.hook.consent_veto.get_hookimpls())
        if n and n.startswith("coprolib.consent.rules.")
    ]
    removed = [(n, pm.unregister(name=n)) for n in names]
    try:
        assert not pm.hook.consent_veto.get_hookimpls()
        c = consent(t=terms(audiences=(Audience.INTERNAL,)))
        refused(evaluate(story(), [c], request()), "allows audience 'internal' only")
        c = consent(t=terms(expires=dt.date(2025, 2, 1)))
        refused(evaluate(story(), [c], request()), "expired on 2025-02-01")
        refused(evaluate(story(), [], request()), "no consent in force")
    finally:
        for n, module in removed:
            pm.register(module, name=n)


# --- properties ---------------------------------------------------------------------------

purposes = st.lists(st.sampled_from(list(Purpose)), min_size=1, max_size=4, unique=True).map(tuple)
audiences = st.lists(st.sampled_from(list(Audience)), min_size=1, max_size=3, unique=True).map(
    tuple
)
levels = st.sampled_from(list(IdentityLevel))
days = st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2028, 1, 1))
destinations = st.sampled_from(["crm", "fhir", "notify", "file"])


@st.composite
def consent_terms(draw: st.DrawFn) -> ConsentTerms:
    snb = draw(st.none() | days)
    exp = draw(st.none() | days)
    if snb is not None and exp is not None and exp < snb:
        snb, exp = exp, snb
    return ConsentTerms(
        purposes=draw(purposes),
        audiences=draw(audiences),
        identity_level=draw(levels),
        quotes_allowed=draw(st.booleans()),
        share_not_before=snb,
        expires=exp,
        denied_destinations=tuple(draw(st.lists(destinations, max_size=2, unique=True))),
    )


@st.composite
def share_requests(draw: st.DrawFn) -> ShareRequest:
    day = draw(days)
    return ShareRequest(
        purpose=draw(st.sampled_from(list(Purpose))),
        purposes=tuple(draw(st.lists(st.sampled_from(list(Purpose)), max_size=2))),
        audience=draw(st.sampled_from(list(Audience))),
        destination=draw(destinations),
        moment=dt.datetime.combine(day, dt.time(12), tzinfo=UTC),
        identity_level=draw(levels),
        quotes=draw(st.booleans()),
    )


def given_consent(t: ConsentTerms, *events: ConsentEvent) -> Consent:
    ev = ConsentEvent(type=ConsentEventType.GIVEN, at=dt.datetime(2024, 12, 1, tzinfo=UTC), terms=t)
    return Consent(id="c-1", contributor_id="p-1", events=(ev, *events))


def in_scope(t: ConsentTerms, r: ShareRequest) -> bool:
    return (
        r.audience in t.audiences
        and all(p in t.purposes for p in r.all_purposes)
        and r.destination not in t.denied_destinations
        and (t.share_not_before is None or r.day >= t.share_not_before)
        and (t.expires is None or r.day <= t.expires)
    )


@settings(max_examples=150, deadline=None)
@given(consent_terms(), share_requests())
def test_property_allowed_exactly_when_in_scope_and_never_more_than_agreed(
    t: ConsentTerms, r: ShareRequest
) -> None:
    d = evaluate(story(), [given_consent(t)], r)
    assert d.allowed == in_scope(t, r)
    if d.allowed:
        assert d.identity_level <= t.identity_level
        assert d.identity_level <= r.identity_level
        assert d.quotes <= (t.quotes_allowed and r.quotes)
    else:
        assert d.reasons


@settings(max_examples=150, deadline=None)
@given(
    consent_terms(),
    share_requests(),
    st.lists(st.sampled_from(list(Purpose)), max_size=3, unique=True),
    st.lists(st.sampled_from(list(Audience)), max_size=2, unique=True),
    st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 12, 31)),
)
def test_property_narrowing_never_allows_more(
    t: ConsentTerms,
    r: ShareRequest,
    drop_p: list[Purpose],
    drop_a: list[Audience],
    on: dt.date,
) -> None:
    at = dt.datetime.combine(on, dt.time(8), tzinfo=UTC)
    narrowed = given_consent(
        t,
        ConsentEvent(
            type=ConsentEventType.WITHDRAWN, at=at, purposes=tuple(drop_p), audiences=tuple(drop_a)
        ),
    )
    before = evaluate(story(), [given_consent(t)], r)
    after = evaluate(story(), [narrowed], r)
    if after.allowed:
        assert before.allowed
        assert after.identity_level <= before.identity_level
        assert after.quotes <= before.quotes
    if r.moment >= at and (r.audience in drop_a or set(r.all_purposes) & set(drop_p)):
        assert not after.allowed


@settings(max_examples=120, deadline=None)
@given(consent_terms(), share_requests(), st.integers(min_value=0, max_value=800))
def test_property_after_withdrawal_nothing_is_allowed(
    t: ConsentTerms, r: ShareRequest, offset: int
) -> None:
    at = r.moment - dt.timedelta(days=offset)
    if at <= dt.datetime(2024, 12, 1, tzinfo=UTC):
        at = dt.datetime(2024, 12, 2, tzinfo=UTC)
    wd = ConsentEvent(type=ConsentEventType.WITHDRAWN, at=at)
    d = evaluate(story(), [given_consent(t, wd)], r)
    assert d.allowed == (r.moment < at and in_scope(t, r))
    if not d.allowed and r.moment >= at:
        assert any("withdrew" in reason for reason in d.reasons)


@settings(max_examples=120, deadline=None)
@given(consent_terms(), share_requests())
def test_property_nothing_before_share_not_before_or_after_expiry(
    t: ConsentTerms, r: ShareRequest
) -> None:
    d = evaluate(story(), [given_consent(t)], r)
    if t.share_not_before is not None and r.day < t.share_not_before:
        assert not d.allowed
    if t.expires is not None and r.day > t.expires:
        assert not d.allowed


@settings(max_examples=120, deadline=None)
@given(
    consent_terms(),
    share_requests(),
    st.booleans(),
    st.sampled_from(list(DecisionBasis)),
    st.booleans(),
)
def test_property_cached_decisions_agree_with_deciding_afresh(
    t: ConsentTerms, r: ShareRequest, review: bool, basis: DecisionBasis, disclosure: bool
) -> None:
    from coprolib.consent import DecisionCache, decide

    t = attrs.evolve(t, review_before_sharing=review)
    ev = ConsentEvent(type=ConsentEventType.GIVEN, at=dt.datetime(2024, 12, 1, tzinfo=UTC), terms=t)
    support = Support.ADVOCATE if basis is DecisionBasis.SUPPORTED_DECISION else Support.NONE
    c = Consent(id="c-1", contributor_id="p-1", basis=basis, support=support, events=(ev,))
    s = story(disclosure=disclosure)
    cache = DecisionCache()
    first = decide(s, [c], r, cache=cache)
    assert decide(s, [c], r, cache=cache) == first == decide(s, [c], r)
    assert cache.hits == 1
    # A new event is a new consent version: never answered from the cache.
    withdrawn = c.with_event(
        ConsentEvent(type=ConsentEventType.WITHDRAWN, at=dt.datetime(2024, 12, 2, tzinfo=UTC))
    )
    assert not decide(s, [withdrawn], r, cache=cache).allowed
