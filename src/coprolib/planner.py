"""The sharing planner: what may go where, rendered as shares, and what must come back.

For every agreed insight and every configured destination the planner asks the consent gate
about each supporting story. The stories it allows, if they come from at least the destination's
``min_contributors`` distinct people, are rendered into a :class:`~coprolib.records.Share` holding
only what consent allows: the insight's fields, quotes where every consent and the destination
allow them, known identifiers masked below "named", the consent versions relied on and a digest of
the content. Shares whose content changed, or that may no longer go, are retracted.

The work is split so each part can be used and tested on its own:

- :func:`route` (pure): decisions and rendered shares for insights x destinations;
- :func:`reconcile` (pure): compare with the shares already recorded: new deliveries,
  retractions, feedback obligations;
- :func:`plan` reads the ledger, runs both and writes the result in one transaction
  (shares, outbox jobs, feedback obligations, audit of overrides used);
- :func:`withdraw` appends a withdrawal event; the next :func:`plan` retracts.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from coprolib.config import Config, Destination
from coprolib.consent import (
    Decision,
    InForce,
    Rule,
    ShareRequest,
    consent_rules,
    evaluate,
    in_force,
    pick_consent,
)
from coprolib.enums import (
    Audience,
    ConsentEventType,
    FeedbackKind,
    FeedbackStatus,
    IdentityLevel,
    InsightStatus,
    Purpose,
    ShareKind,
)
from coprolib.records import (
    Consent,
    ConsentEvent,
    ConsentRef,
    Contributor,
    Feedback,
    Insight,
    Share,
    SharedQuote,
    Story,
)

if TYPE_CHECKING:
    from coprolib.ledger import Ledger

__all__ = [
    "Plan",
    "Recheck",
    "Retraction",
    "Routed",
    "Withdrawal",
    "World",
    "explain",
    "insight_text_digest",
    "plan",
    "recheck",
    "reconcile",
    "route",
    "withdraw",
]

_share = cast(Callable[..., Share], Share)
_quote = cast(Callable[..., SharedQuote], SharedQuote)
_feedback = cast(Callable[..., Feedback], Feedback)
_consent = cast(Callable[..., Consent], Consent)
_event = cast(Callable[..., ConsentEvent], ConsentEvent)

T = TypeVar("T")


def _evolve(record: T, **changes: Any) -> T:
    """``attrs.evolve`` typed for mypy (which does not see the records' attrs alias)."""
    new: T = attrs.evolve(cast(Any, record), **changes)
    return new


_RANK = {level: i for i, level in enumerate(IdentityLevel)}
#: Share statuses (the ledger's ``ShareStatus`` values) that mean "out there, or on its way".
LIVE = ("planned", "delivered")


def insight_text_digest(insight: Insight) -> str:
    """The sha256 (hex) of an insight's words: what a contributor approves when they review it.

    Covers the title, summary and recommendation; any change to them needs a new approval.
    """
    text = f"{insight.title}\n\n{insight.summary}\n\n{insight.recommendation}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the records the planner reads ------------------------------------------------------------


@attrs.frozen(kw_only=True)
class World:
    """The records a plan is made from, indexed for lookups."""

    stories: Mapping[str, Story]
    contributors: Mapping[str, Contributor]
    insights: Mapping[str, Insight]
    consents_by_contributor: Mapping[str, tuple[Consent, ...]]

    @classmethod
    def from_records(
        cls,
        *,
        stories: Iterable[Story],
        consents: Iterable[Consent],
        insights: Iterable[Insight],
        contributors: Iterable[Contributor] = (),
    ) -> World:
        """Index the records by id (consents by contributor)."""
        by_contributor: dict[str, list[Consent]] = {}
        for c in consents:
            by_contributor.setdefault(c.contributor_id, []).append(c)
        return cls(
            stories={s.id: s for s in stories},
            contributors={c.id: c for c in contributors},
            insights={i.id: i for i in insights},
            consents_by_contributor={k: tuple(v) for k, v in by_contributor.items()},
        )

    def consents_for(self, story: Story) -> tuple[Consent, ...]:
        """Every consent from the story's tellers (the gate picks the one covering it)."""
        out: list[Consent] = []
        for cid in story.contributor_ids:
            out.extend(self.consents_by_contributor.get(cid, ()))
        return tuple(out)

    def insights_citing(self, story_ids: Iterable[str]) -> list[str]:
        """Ids of the insights whose evidence includes any of ``story_ids``."""
        wanted = set(story_ids)
        return [i.id for i in self.insights.values() if wanted.intersection(i.story_ids)]


# --- routing: decisions and rendering ---------------------------------------------------------


@attrs.frozen(kw_only=True)
class Routed:
    """One insight for one destination: the decisions per story and the share, if it may go."""

    insight_id: str
    destination: str
    share: Share | None
    decisions: tuple[Decision, ...]
    reasons: tuple[str, ...] = ()

    @property
    def sent(self) -> bool:
        """Whether a share was rendered."""
        return self.share is not None


def request_for(dest: Destination, insight: Insight | None, moment: dt.datetime) -> ShareRequest:
    """The share request a destination makes for an insight (or for a bare story)."""
    return ShareRequest(
        purpose=dest.purposes[0],
        purposes=dest.purposes[1:],
        audience=dest.audience,
        destination=dest.name,
        moment=moment,
        identity_level=dest.max_identity,
        quotes=dest.quotes,
        insight_id=insight.id if insight else None,
        insight_text_digest=insight_text_digest(insight) if insight else None,
    )


class RedactionCache:
    """Redactions already made in one plan: the spans found in each text (the same whatever the
    level) and each text as redacted for a level."""

    def __init__(self) -> None:
        self.spans: dict[tuple[str, tuple[str, ...]], tuple[Any, ...]] = {}
        self.texts: dict[tuple[str, IdentityLevel, tuple[str, ...], tuple[str, ...]], str] = {}
        self._known: dict[str, tuple[dict[str, tuple[str, ...]], tuple[str, ...]]] = {}

    def identifiers(
        self, insight: Insight, world: World
    ) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
        """The known identifiers of each teller of the insight's stories, and all of them."""
        hit = self._known.get(insight.id)
        if hit is not None:
            return hit
        known: dict[str, tuple[str, ...]] = {}
        for ref in insight.evidence:
            story = world.stories.get(ref.story_id)
            if story is None:
                continue
            for cid in story.contributor_ids:
                person = world.contributors.get(cid)
                if person is not None and person.known_identifiers:
                    known[cid] = person.known_identifiers
        found = (known, tuple(sorted({i for ids in known.values() for i in ids})))
        self._known[insight.id] = found
        return found


class _Found:
    """A recogniser that returns spans already found (so a text is searched once per plan and
    only the placeholders differ between identity levels)."""

    name = "coprolib.planner.found"
    labels: tuple[str, ...] = ()

    def __init__(self, spans: tuple[Any, ...]) -> None:
        self.spans = spans

    def find(self, text: str) -> tuple[Any, ...]:
        """The spans found earlier in this same text."""
        return self.spans


@lru_cache(maxsize=65536)
def _first_word(identifier: str) -> str:
    words = identifier.split()
    return words[0].lower() if words else ""


def redact_for_share(
    text: str,
    level: IdentityLevel,
    identifiers: tuple[str, ...],
    withheld: tuple[str, ...] = (),
    cache: RedactionCache | None = None,
) -> str:
    """``text`` as it may leave at identity ``level``, through :func:`coprolib.redact.redact`.

    Below "named", every recogniser runs and ``identifiers`` (the known identifiers of everyone
    whose story the insight draws on) are replaced. At "named", only ``withheld`` identifiers
    (people whose stories were refused) are replaced.
    """
    cache = cache if cache is not None else RedactionCache()
    key = (text, level, identifiers, withheld)
    hit = cache.texts.get(key)
    if hit is not None:
        return hit
    from coprolib.redact import find_spans, redact

    # Only identifiers whose first word occurs in the text can match (redact() matches whole
    # words in any case and spacing); passing just those keeps redaction fast.
    lowered = text.lower()
    if level is IdentityLevel.NAMED:
        withheld = tuple(i for i in withheld if _first_word(i) in lowered)
        out = (
            redact(text, IdentityLevel.PSEUDONYMOUS, withheld, recognizers=()).text
            if withheld
            else text
        )
    else:
        present = tuple(i for i in identifiers if _first_word(i) in lowered)
        spans = cache.spans.get((text, present))
        if spans is None:
            spans = tuple(find_spans(text, present))
            cache.spans[(text, present)] = spans
        out = redact(text, level, (), recognizers=[_Found(spans)]).text if spans else text
    cache.texts[key] = out
    return out


def _digest(content: Mapping[str, Any]) -> str:
    data = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def share_identity(kind: str, subject_id: str, destination: str, digest: str) -> tuple[str, str]:
    """The deterministic ``(share id, idempotency key)`` of some content for a destination.

    The same content for the same subject and destination always gets the same id and key, so a
    retried delivery is recognised; changed content (a re-render after a withdrawal) gets new ones
    and the old share is retracted.
    """
    base = hashlib.sha256(
        f"{kind}\x1f{subject_id}\x1f{destination}\x1f{digest}".encode()
    ).hexdigest()
    return f"sh-{base[:20]}", f"coprolib-{base[:40]}"


def render(
    insight: Insight,
    dest: Destination,
    allowed: Sequence[Decision],
    world: World,
    moment: dt.datetime,
    cache: RedactionCache | None = None,
) -> Share:
    """The share of ``insight`` for ``dest`` built only from the ``allowed`` decisions."""
    level = min((d.identity_level for d in allowed), key=_RANK.__getitem__)
    cache = cache if cache is not None else RedactionCache()
    # Identifiers of every teller of every supporting story: those refused are masked whatever
    # level was granted; those allowed are kept only when everyone allowed "named".
    known, identifiers = cache.identifiers(insight, world)
    withheld: tuple[str, ...] = ()
    if len(allowed) < len(insight.evidence):
        allowed_people = {cid for d in allowed for cid in world.stories[d.story_id].contributor_ids}
        withheld = tuple(
            sorted({i for cid, ids in known.items() if cid not in allowed_people for i in ids})
        )

    def clean(text: str) -> str:
        return redact_for_share(text, level, identifiers, withheld, cache)

    quotes: list[SharedQuote] = []
    by_story = {d.story_id: d for d in allowed}
    contributors: set[str] = set()
    story_ids: list[str] = []
    consent_refs: dict[str, ConsentRef] = {}
    n = 0
    for ref in insight.evidence:
        d = by_story.get(ref.story_id)
        if d is None:
            continue
        story = world.stories[ref.story_id]
        n += 1
        story_ids.append(story.id)
        contributors.update(story.contributor_ids)
        for cr in d.consent_refs:
            consent_refs[cr.consent_id] = cr
        if not d.quotes:
            continue
        label = story.id if _RANK[level] >= 1 else f"story {n}"
        for qid in ref.quote_ids:
            try:
                text = story.quote(qid)
            except KeyError:
                continue
            quotes.append(_quote(text=clean(text), story_ref=label))
    content: dict[str, Any] = {
        "kind": "insight",
        "destination": dest.name,
        "subject_id": insight.id,
        "identity_level": level.value,
        "title": clean(insight.title),
        "body": clean(insight.summary),
        "recommendation": clean(insight.recommendation),
        "domain": insight.domain.value,
        "themes": list(insight.themes),
        "quotes": [[q.text, q.story_ref] for q in quotes],
        "story_ids": story_ids,
        "contributor_count": len(contributors),
    }
    digest = _digest(content)
    share_id, key = share_identity("insight", insight.id, dest.name, digest)
    return _share(
        id=share_id,
        kind=ShareKind.INSIGHT,
        destination=dest.name,
        subject_id=insight.id,
        identity_level=level,
        title=content["title"],
        body=content["body"],
        recommendation=content["recommendation"],
        domain=insight.domain,
        themes=insight.themes,
        quotes=tuple(quotes),
        story_ids=tuple(story_ids),
        contributor_count=len(contributors),
        consent_refs=tuple(sorted(consent_refs.values(), key=lambda r: r.consent_id)),
        idempotency_key=key,
        digest=digest,
        planned_at=moment,
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many long-lived objects (nothing
    here makes reference cycles); it otherwise rescans them over and over."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def route(
    world: World,
    destinations: Iterable[Destination],
    moment: dt.datetime,
    insight_ids: Iterable[str] | None = None,
    *,
    rules: Sequence[tuple[str, Rule]] | None = None,
) -> list[Routed]:
    """Decide and render every agreed insight (or those named) for every destination. Pure."""
    if rules is None:
        rules = consent_rules()
    dests = list(destinations)
    ids = list(world.insights) if insight_ids is None else list(insight_ids)
    tellers_cache: dict[str, tuple[InForce, ...]] = {}
    cache = RedactionCache()
    out: list[Routed] = []
    with _gc_paused():
        for iid in ids:
            insight = world.insights.get(iid)
            if insight is None or insight.status is not InsightStatus.AGREED:
                continue
            for dest in dests:
                out.append(_route_one(world, insight, dest, moment, rules, tellers_cache, cache))
    return out


def _route_one(
    world: World,
    insight: Insight,
    dest: Destination,
    moment: dt.datetime,
    rules: Sequence[tuple[str, Rule]],
    tellers_cache: dict[str, tuple[InForce, ...]],
    cache: RedactionCache,
) -> Routed:
    request = request_for(dest, insight, moment)
    decisions: list[Decision] = []
    reasons: list[str] = []
    for ref in insight.evidence:
        story = world.stories.get(ref.story_id)
        if story is None:
            reasons.append(f"story {ref.story_id}: not in the ledger, so it cannot support a share")
            continue
        tellers = tellers_cache.get(story.id)
        if tellers is None:
            tellers = in_force(story, world.consents_for(story), moment)
            tellers_cache[story.id] = tellers
        d = evaluate(story, (), request, rules=rules, tellers=tellers)
        decisions.append(d)
        reasons.extend(d.reasons)
    allowed = [d for d in decisions if d.allowed]
    people = {cid for d in allowed for cid in world.stories[d.story_id].contributor_ids}
    if not allowed:
        reasons.append(
            f"insight {insight.id}: no supporting story may go to '{dest.name}', so it is not sent"
        )
        share = None
    elif len(people) < dest.min_contributors:
        n = len(people)
        whose = "contributor's story" if n == 1 else "contributors' stories"
        reasons.append(
            f"insight {insight.id}: too few contributors: only {n} distinct {whose} may go to "
            f"'{dest.name}'; it needs at least {dest.min_contributors} (min_contributors), "
            f"so it is not sent"
        )
        share = None
    else:
        share = render(insight, dest, allowed, world, moment, cache)
    return Routed(
        insight_id=insight.id,
        destination=dest.name,
        share=share,
        decisions=tuple(decisions),
        reasons=tuple(reasons),
    )


# --- reconciling with what was already planned or sent ----------------------------------------


@attrs.frozen(kw_only=True)
class Retraction:
    """A recorded share that must come back, and why."""

    share_id: str
    destination: str
    subject_id: str
    status: str
    reason: str
    story_ids: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Plan:
    """The result of planning: what to deliver, what is already out there, what to retract,
    the feedback owed, and every routing decision (for ``--explain``)."""

    moment: dt.datetime
    routed: tuple[Routed, ...]
    deliver: tuple[Share, ...]
    unchanged: tuple[str, ...]
    retractions: tuple[Retraction, ...]
    feedback: tuple[Feedback, ...]
    overrides: tuple[tuple[str, str, ConsentEvent], ...] = ()

    def not_sent(self) -> list[Routed]:
        """The insight x destination pairs that do not go, each with its reasons."""
        return [r for r in self.routed if r.share is None]

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``coprolib plan --json``."""
        return {
            "moment": self.moment.isoformat(),
            "deliver": [
                {
                    "share_id": s.id,
                    "insight_id": s.subject_id,
                    "destination": s.destination,
                    "identity_level": str(s.identity_level),
                    "quotes": len(s.quotes),
                    "story_ids": list(s.story_ids),
                    "contributor_count": s.contributor_count,
                    "digest": s.digest,
                    "idempotency_key": s.idempotency_key,
                }
                for s in self.deliver
            ],
            "unchanged": list(self.unchanged),
            "retract": [attrs.asdict(r) for r in self.retractions],
            "not_sent": [
                {
                    "insight_id": r.insight_id,
                    "destination": r.destination,
                    "reasons": list(r.reasons),
                }
                for r in self.not_sent()
            ],
            "feedback": [
                {
                    "id": f.id,
                    "contributor_id": f.contributor_id,
                    "kind": str(f.kind),
                    "due": f.due.isoformat() if f.due else None,
                    "destination": f.destination,
                }
                for f in self.feedback
            ],
        }


def feedback_id(contributor_id: str, insight_id: str, destination: str, kind: str) -> str:
    """The deterministic id of a feedback obligation, so re-planning never duplicates one."""
    key = f"{contributor_id}\x1f{insight_id}\x1f{destination}\x1f{kind}"
    return "fb-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def _obligations(
    share: Share,
    dest: Destination,
    world: World,
    moment: dt.datetime,
    existing: Callable[[str], bool],
) -> list[Feedback]:
    out: list[Feedback] = []
    people: dict[str, list[str]] = {}
    for sid in share.story_ids:
        for cid in world.stories[sid].contributor_ids:
            people.setdefault(cid, []).append(sid)
    today = moment.date()
    what = "without quotes" if not share.quotes else f"with {len(share.quotes)} quote(s)"
    kinds = (
        (
            FeedbackKind.SCHEDULED,
            "scheduled",
            today + dt.timedelta(days=dest.feedback.scheduled_days),
            f"From {today.isoformat()} what we learned from your story, "
            f'"{share.title}", will be shared with {dest.name} (audience: {dest.audience}), '
            f"{share.identity_level}, {what}.",
        ),
        (
            FeedbackKind.SHARED,
            "shared",
            today + dt.timedelta(days=dest.feedback.shared_days),
            f'"{share.title}" was shared with {dest.name}: tell them what happened and how '
            f"it was received.",
        ),
    )
    iid, dname, share_id = share.subject_id, dest.name, share.id
    contributors = world.contributors
    for cid, sids in people.items():
        person = contributors.get(cid)
        if person is None or not person.wants_feedback:
            continue
        story_ids = tuple(sids)
        channel = person.feedback_channel
        for kind, kind_name, due, message in kinds:
            fid = feedback_id(cid, iid, dname, kind_name)
            if existing(fid):
                continue
            out.append(
                _feedback(
                    id=fid,
                    contributor_id=cid,
                    kind=kind,
                    channel=channel,
                    due=due,
                    story_ids=story_ids,
                    insight_id=iid,
                    share_id=share_id,
                    destination=dname,
                    message=message,
                    created_at=moment,
                )
            )
    return out


def reconcile(
    routed: Sequence[Routed],
    recorded: Iterable[tuple[Share, str]],
    world: World,
    destinations: Mapping[str, Destination],
    moment: dt.datetime,
    *,
    scope: Iterable[str] | None = None,
    feedback_exists: Callable[[str], bool] = lambda _id: False,
) -> Plan:
    """
        with _gc_paused():
            return _reconcile(
                routed,
                recorded,
                world,
                destinations,
                moment,
                scope=scope,
                feedback_exists=feedback_exists,
            )


    def _reconcile(
        routed: Sequence[Routed],
        recorded: Iterable[tuple[Share, str]],
        world: World,
        destinations: Mapping[str, Destination],
        moment: dt.datetime,
        *,
        scope: Iterable[str] | None = None,
        feedback_exists: Callable[[str], bool] = lambda _id: False,
    ) -> Plan:
    Compare freshly routed shares with the recorded ones (``(share, status)`` pairs). Pure.

        ``scope`` names the insights that were routed (None: all). A live recorded share (planned
        or delivered) for an insight in scope and a configured destination that is not exactly what
        was routed now is retracted: its content changed, or it may no longer go at all.
    """
    in_scope = None if scope is None else set(scope)
    by_pair: dict[tuple[str, str], list[tuple[Share, str]]] = {}
    known: dict[str, str] = {}
    for share, status in recorded:
        s = str(status).lower()
        known[share.id] = s
        by_pair.setdefault((share.subject_id, share.destination), []).append((share, s))
    deliver: list[Share] = []
    unchanged: list[str] = []
    retractions: list[Retraction] = []
    feedback: list[Feedback] = []
    overrides: list[tuple[str, str, ConsentEvent]] = []
    routed_pairs: set[tuple[str, str]] = set()

    for r in routed:
        pair = (r.insight_id, r.destination)
        routed_pairs.add(pair)
        new = r.share
        if new is not None:
            seen = known.get(new.id)
            if seen in LIVE or seen == "dead":
                unchanged.append(new.id)
            else:
                deliver.append(new)
                dest = destinations[r.destination]
                # Obligation ids are unique within a plan (one share per insight and
                # destination), so only those recorded earlier need checking.
                feedback.extend(_obligations(new, dest, world, moment, feedback_exists))
                for d in r.decisions:
                    if d.allowed and d.story_id in new.story_ids:
                        overrides.extend((cid, new.id, ev) for cid, ev in d.overrides)
        for old, status in by_pair.get(pair, ()):
            if status not in LIVE or (new is not None and old.id == new.id):
                continue
            retractions.append(_retraction(old, status, new, r))
    # Live shares of insights in scope that were not routed at all (retired, removed, draft).
    for (iid, dname), olds in by_pair.items():
        if (iid, dname) in routed_pairs or dname not in destinations:
            continue
        if in_scope is not None and iid not in in_scope:
            continue
        insight = world.insights.get(iid)
        why = (
            f"insight {iid} is no longer in the ledger"
            if insight is None
            else f"insight {iid} is {insight.status}, not agreed"
        )
        for old, status in olds:
            if status in LIVE:
                retractions.append(
                    Retraction(
                        share_id=old.id,
                        destination=dname,
                        subject_id=iid,
                        status=status,
                        reason=why,
                        story_ids=old.story_ids,
                    )
                )
    return Plan(
        moment=moment,
        routed=tuple(routed),
        deliver=tuple(deliver),
        unchanged=tuple(unchanged),
        retractions=tuple(retractions),
        feedback=tuple(feedback),
        overrides=tuple(overrides),
    )


def _retraction(old: Share, status: str, new: Share | None, r: Routed) -> Retraction:
    refusals = {d.story_id: d.reasons for d in r.decisions if not d.allowed}
    dropped = tuple(
        s
        for s in old.story_ids
        if (new is None and s in refusals) or (new and s not in new.story_ids)
    )
    why: list[str] = []
    for sid in dropped:
        why.extend(refusals.get(sid, (f"story {sid} no longer supports insight {r.insight_id}",)))
    if new is None:
        why.extend(x for x in r.reasons if x.startswith(f"insight {r.insight_id}:"))
    elif not dropped:
        why.append(f"insight {r.insight_id} was re-rendered; the new version replaces this one")
    else:
        why.append(f"re-rendered without {', '.join(dropped)} as share {new.id}")
    return Retraction(
        share_id=old.id,
        destination=old.destination,
        subject_id=old.subject_id,
        status=status,
        reason="; ".join(dict.fromkeys(why)),
        story_ids=dropped,
    )


# --- with the ledger ---------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def merge_worlds(worlds: Iterable[World]) -> World:
    """One world holding the records of several."""
    stories: dict[str, Story] = {}
    people: dict[str, Contributor] = {}
    insights: dict[str, Insight] = {}
    consents: dict[str, Consent] = {}
    for w in worlds:
        stories.update(w.stories)
        people.update(w.contributors)
        insights.update(w.insights)
        for cs in w.consents_by_contributor.values():
            consents.update((c.id, c) for c in cs)
    return World.from_records(
        stories=stories.values(),
        consents=consents.values(),
        insights=insights.values(),
        contributors=people.values(),
    )


def load_world(ledger: Ledger) -> World:
    """Read every record the planner needs from the ledger."""
    return World.from_records(
        stories=ledger.list(Story),
        consents=ledger.list(Consent),
        insights=ledger.list(Insight),
        contributors=ledger.list(Contributor),
    )


def plan(
    ledger: Ledger,
    config: Config,
    *,
    destination: str | None = None,
    stories: Iterable[str] | None = None,
    insights: Iterable[str] | None = None,
    moment: dt.datetime | None = None,
    apply: bool = True,
    world: World | None = None,
) -> Plan:
    """Plan shares from the ledger for the configured destinations and, with ``apply``, record
    them: new shares and their ``deliver`` jobs, ``retract`` jobs, feedback owed, and an audit
    entry for every best-interests override relied on. All in one transaction.

    ``stories`` / ``insights`` narrow the plan to the insights citing those stories / those
    insights (a re-plan after a withdrawal touches only them); ``destination`` to one destination.
    """
    moment = moment or _now()
    dests = (
        {destination: config.destination(destination)}
        if destination is not None
        else dict(config.destinations)
    )
    scope: list[str] | None = None
    if stories is not None or insights is not None:
        wanted = set(insights or ())
        for sid in stories or ():
            if world is not None:
                wanted.update(world.insights_citing([sid]))
            else:
                wanted.update(i.id for i in ledger.list(Insight, story=sid))
        scope = sorted(wanted)
        # Only the affected insights' records are read: a re-plan after one withdrawal stays
        # small however big the ledger is.
        world = world or merge_worlds(world_for_insight(ledger, iid) for iid in scope)
    world = world or load_world(ledger)
    routed = route(world, dests.values(), moment, scope)
    recorded: list[tuple[Share, str]] = []
    if scope is None:
        for dname in dests:
            recorded.extend(_recorded(ledger.list_shares(destination=dname)))
    else:
        for iid in scope:
            for dname in dests:
                recorded.extend(_recorded(ledger.list_shares(destination=dname, subject_id=iid)))
    if scope is None:
        existing_fb = {f.id for f in ledger.list(Feedback)}
    else:
        existing_fb = {f.id for iid in scope for f in ledger.list(Feedback, insight=iid)}
    result = reconcile(
        routed,
        recorded,
        world,
        dests,
        moment,
        scope=scope,
        feedback_exists=existing_fb.__contains__,
    )
    if apply:
        apply_plan(ledger, result)
    return result


def _recorded(rows: Iterable[tuple[Share, Any]]) -> list[tuple[Share, str]]:
    return [
        (share, str(status.value if hasattr(status, "value") else status)) for share, status in rows
    ]


def apply_plan(ledger: Ledger, result: Plan) -> None:
    """Record a plan in the ledger, all or nothing."""
    from coprolib.ledger import ShareStatus

    jobs_by_destination: dict[str, list[Any]] = {}

    def open_deliveries(share_id: str, destination: str) -> list[Any]:
        if destination not in jobs_by_destination:
            jobs_by_destination[destination] = [
                job
                for status in ("pending", "claimed")
                for job in ledger.list_jobs(status=status, destination=destination)
                if job.kind == "deliver"
            ]
        return [j for j in jobs_by_destination[destination] if j.share_id == share_id]

    with ledger.transaction():
        for share in result.deliver:
            prior = ledger.get_share(share.id)
            if prior is not None and prior[1] is ShareStatus.RETRACT_PLANNED:
                # Allowed again before its retraction ran: call the retraction off and leave
                # the delivered record where it is.
                pending = [
                    j
                    for j in ledger.list_jobs(status="pending", destination=share.destination)
                    if j.share_id == share.id and j.kind == "retract"
                ]
                if pending:
                    for job in pending:
                        ledger.finish_job(job.id, "cancelled", error="allowed again")
                    ledger.set_share_status(share.id, ShareStatus.DELIVERED)
                    continue
            if prior is not None and str(prior[1].value).lower() not in LIVE:
                # Delivered again after a retraction: a fresh key so the destination cannot
                # answer from a cache of the retracted record.
                share = _evolve(
                    share, idempotency_key=f"{share.idempotency_key}-{result.moment:%Y%m%dT%H%M%S}"
                )
            ledger.put_share(share, status=ShareStatus.PLANNED)
            ledger.enqueue_job("deliver", share.destination, share.id, share.idempotency_key)
        for r in result.retractions:
            found = ledger.get_share(r.share_id)
            if found is None:
                continue
            old, _status = found
            in_flight = False
            if r.status == "planned":
                for job in open_deliveries(r.share_id, r.destination):
                    if job.status == "pending":
                        ledger.finish_job(job.id, "cancelled", error=f"retracted: {r.reason}")
                    elif job.status == "claimed":
                        in_flight = True
                if not in_flight:
                    ledger.set_share_status(r.share_id, ShareStatus.CANCELLED)
                    continue
            ledger.set_share_status(r.share_id, ShareStatus.RETRACT_PLANNED)
            ledger.enqueue_job("retract", r.destination, r.share_id, old.idempotency_key)
        if result.feedback:
            ledger.add(result.feedback)
        for consent_id, share_id, ev in result.overrides:
            note = f"{ev.at.isoformat()}\x1f{ev.reason}\x1f{ev.approver}"
            ledger.record_audit(
                "consent.override_used",
                f"{consent_id}->{share_id}",
                hashlib.sha256(note.encode()).hexdigest(),
            )


# --- withdrawal -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Withdrawal:
    """What :func:`withdraw` changed: the consents that got a withdrawal event, the stories
    affected, the feedback obligations cancelled and the confirmation owed."""

    contributor_id: str
    consent_ids: tuple[str, ...]
    story_ids: tuple[str, ...]
    narrowing: bool
    cancelled_feedback: tuple[str, ...] = ()
    confirmation: str | None = None


class WithdrawalError(ValueError):
    """A withdrawal that names nothing to withdraw."""


def withdraw(
    ledger: Ledger,
    contributor_id: str,
    story_id: str | None = None,
    reason: str | None = None,
    purposes: Iterable[Purpose | str] = (),
    audiences: Iterable[Audience | str] = (),
    *,
    moment: dt.datetime | None = None,
    recorded_by: str | None = None,
    config: Config | None = None,
) -> Withdrawal:
    """Append a withdrawal event to the contributor's consents (those covering ``story_id``, or
    all). Naming ``purposes`` / ``audiences`` narrows instead of withdrawing everything. The next
    :func:`plan` retracts what was shared. Obligations to tell them about shares are cancelled
    and a ``withdrawal_confirmed`` feedback is owed (if they want to hear back)."""
    moment = moment or _now()
    ps = tuple(Purpose(p) for p in purposes)
    auds = tuple(Audience(a) for a in audiences)
    with ledger.transaction():
        person = ledger.get(Contributor, contributor_id)
        if person is None:
            raise WithdrawalError(f"contributor {contributor_id!r} is not in the ledger")
        consents = [
            c
            for c in ledger.list(Consent, contributor=contributor_id)
            if c.contributor_id == contributor_id and (story_id is None or c.covers(story_id))
        ]
        if story_id is not None:
            story = ledger.get(Story, story_id)
            if story is None or contributor_id not in story.contributor_ids:
                raise WithdrawalError(
                    f"story {story_id!r} is not a story told by contributor {contributor_id!r}"
                )
        if not consents:
            what = f" covering story {story_id}" if story_id else ""
            raise WithdrawalError(f"contributor {contributor_id} has no consent{what} to withdraw")
        event = _event(
            type=ConsentEventType.WITHDRAWN,
            at=moment,
            recorded_by=recorded_by,
            reason=reason,
            purposes=ps,
            audiences=auds,
        )
        ids = []
        specific = [c for c in consents if c.story_ids == (story_id,)]
        if story_id is not None and not specific:
            # The consent covering the story covers others too (or all): withdraw this one story
            # by recording a consent for it alone (the same terms, then withdrawn), which governs
            # it from now (a consent naming one story beats a broader one).
            governing = pick_consent(contributor_id, story_id, consents)
            for c in [governing] if governing is not None else []:
                state = c.state_at(moment)
                if state.terms is None:
                    continue
                derived = _consent(
                    id=f"{c.id}~{story_id}",
                    contributor_id=contributor_id,
                    story_ids=(story_id,),
                    basis=c.basis,
                    support=c.support,
                    supported_by=c.supported_by,
                    method=c.method,
                    events=(
                        _event(
                            type=ConsentEventType.GIVEN,
                            at=moment,
                            recorded_by=recorded_by,
                            terms=state.terms,
                            reason=f"the terms of consent {c.id}, recorded for story "
                            f"{story_id} alone so that it can be withdrawn on its own",
                        ),
                        event,
                    ),
                )
                ledger.add(derived)
                ids.append(derived.id)
        else:
            for c in specific if story_id is not None else consents:
                if c.events and c.events[-1].at > moment:
                    event = _evolve(event, at=c.events[-1].at)
                ledger.append_consent_event(c.id, event)
                ids.append(c.id)
        told = [
            s.id
            for s in ledger.list(Story, contributor=contributor_id)
            if contributor_id in s.contributor_ids
        ]
        affected = (
            (story_id,)
            if story_id is not None
            else tuple(s for s in told if any(c.covers(s) for c in consents))
        )
        cancelled: list[str] = []
        confirmation = None
        if not (ps or auds):
            for fb in ledger.list(Feedback, contributor=contributor_id):
                if (
                    fb.contributor_id == contributor_id
                    and fb.status is FeedbackStatus.OWED
                    and fb.kind in (FeedbackKind.SCHEDULED, FeedbackKind.SHARED)
                    and fb.story_ids
                    and set(fb.story_ids) <= set(affected)
                ):
                    ledger.replace(
                        _evolve(
                            fb,
                            status=FeedbackStatus.CANCELLED,
                            note=f"withdrawn on {moment.date().isoformat()}",
                        )
                    )
                    cancelled.append(fb.id)
        if person.wants_feedback:
            days = config.feedback.scheduled_days if config else 7
            key = f"{contributor_id}\x1fwithdrawal\x1f{story_id}\x1f{moment.isoformat()}"
            fid = "fb-" + hashlib.sha256(key.encode()).hexdigest()[:16]
            scope_words = f"story {story_id}" if story_id else "all your stories"
            narrowed = ", ".join([*map(str, ps), *map(str, auds)])
            msg = (
                f"We have recorded that you no longer want {scope_words} used"
                + (f" for {narrowed}" if narrowed else "")
                + ". Anything already shared will be taken back, and we will confirm when it is."
            )
            ledger.add(
                _feedback(
                    id=fid,
                    contributor_id=contributor_id,
                    kind=FeedbackKind.WITHDRAWAL_CONFIRMED,
                    channel=person.feedback_channel,
                    due=moment.date() + dt.timedelta(days=days),
                    story_ids=affected,
                    message=msg,
                    created_at=moment,
                )
            )
            confirmation = fid
    return Withdrawal(
        contributor_id=contributor_id,
        consent_ids=tuple(ids),
        story_ids=affected,
        narrowing=bool(ps or auds),
        cancelled_feedback=tuple(cancelled),
        confirmation=confirmation,
    )


# --- explaining -------------------------------------------------------------------------------


def explain(
    target_id: str,
    routed: Sequence[Routed],
    world: World,
    destinations: Mapping[str, Destination],
    moment: dt.datetime,
) -> list[str]:
    """Plain-words lines saying what happens to a story or an insight, and why."""
    lines: list[str] = []
    if target_id in world.insights:
        insight = world.insights[target_id]
        if insight.status is not InsightStatus.AGREED:
            return [f"insight {target_id} is {insight.status}: only agreed insights are shared"]
        for r in routed:
            if r.insight_id != target_id:
                continue
            if r.share is not None:
                s = r.share
                lines.append(
                    f"insight {target_id} -> {r.destination}: goes ({len(s.story_ids)} stories, "
                    f"{s.contributor_count} contributors, {s.identity_level}, "
                    f"{len(s.quotes)} quote(s)) as share {s.id}"
                )
                lines.extend(f"  left out: {x}" for x in r.reasons)
            else:
                lines.append(f"insight {target_id} -> {r.destination}: not sent")
                lines.extend(f"  {x}" for x in r.reasons)
        return lines or [f"insight {target_id}: no destination is configured"]
    story = world.stories.get(target_id)
    if story is None:
        return [f"{target_id}: no story or insight with this id"]
    citing = [r for r in routed if target_id in world.insights[r.insight_id].story_ids]
    for r in citing:
        d = next(x for x in r.decisions if x.story_id == target_id)
        if d.allowed:
            went = "and the insight goes" if r.share is not None else "but the insight does not go"
            lines.append(
                f"story {target_id} in insight {r.insight_id} -> {r.destination}: allowed "
                f"({d.identity_level}, quotes {'yes' if d.quotes else 'no'}) {went}"
            )
            if r.share is None:
                lines.extend(
                    f"  {x}" for x in r.reasons if x.startswith(f"insight {r.insight_id}:")
                )
        else:
            lines.append(f"story {target_id} in insight {r.insight_id} -> {r.destination}: refused")
            lines.extend(f"  {x}" for x in d.reasons)
    if not citing:
        lines.append(f"story {target_id}: no agreed insight uses it")
        rules = consent_rules()
        tellers = in_force(story, world.consents_for(story), moment)
        for dest in destinations.values():
            d = evaluate(story, (), request_for(dest, None, moment), rules=rules, tellers=tellers)
            verdict = "would be allowed" if d.allowed else "refused"
            lines.append(f"story {target_id} -> {dest.name}: {verdict}")
            lines.extend(f"  {x}" for x in d.reasons)
    return lines


# --- checking again at delivery time ----------------------------------------------------------


@attrs.frozen(kw_only=True)
class Recheck:
    """Whether a planned share may still go exactly as it is, and if not, why."""

    share_id: str
    allowed: bool
    reasons: tuple[str, ...] = ()


def world_for_insight(ledger: Ledger, insight_id: str) -> World:
    """Just the records one insight needs: itself, its stories, their tellers and consents."""
    insight = ledger.get(Insight, insight_id)
    stories: dict[str, Story] = {}
    consents: dict[str, Consent] = {}
    people: dict[str, Contributor] = {}
    for sid in insight.story_ids if insight is not None else ():
        story = ledger.get(Story, sid)
        if story is None:
            continue
        stories[sid] = story
        for cid in story.contributor_ids:
            for c in ledger.list(Consent, contributor=cid):
                if c.covers(sid):
                    consents[c.id] = c
            person = ledger.get(Contributor, cid)
            if person is not None:
                people[cid] = person
    return World.from_records(
        stories=stories.values(),
        consents=consents.values(),
        insights=[insight] if insight is not None else [],
        contributors=people.values(),
    )


def recheck(
    share: Share,
    config: Config,
    *,
    ledger: Ledger | None = None,
    world: World | None = None,
    moment: dt.datetime | None = None,
) -> Recheck:
    """Check a planned insight share again (at delivery time: consent can change in between).

    It may go only if planning now, for its destination, would render exactly this share (same
    id, so same content): anything withdrawn, narrowed, expired or re-worded since says no.
    Give ``ledger`` (only this insight's records are read) or an already loaded ``world``.
    """
    moment = moment or _now()
    if share.kind is not ShareKind.INSIGHT:
        return Recheck(share_id=share.id, allowed=False, reasons=("not an insight share",))
    if world is None:
        if ledger is None:
            raise ValueError("recheck needs a ledger or a world")
        world = world_for_insight(ledger, share.subject_id)
    dest = config.destinations.get(share.destination)
    if dest is None:
        return Recheck(
            share_id=share.id,
            allowed=False,
            reasons=(f"destination '{share.destination}' is no longer configured",),
        )
    insight = world.insights.get(share.subject_id)
    if insight is None or insight.status is not InsightStatus.AGREED:
        state = "gone" if insight is None else str(insight.status)
        return Recheck(
            share_id=share.id,
            allowed=False,
            reasons=(f"insight {share.subject_id} is {state}, not agreed",),
        )
    (now,) = route(world, [dest], moment, [insight.id])
    if now.share is not None and now.share.id == share.id:
        return Recheck(share_id=share.id, allowed=True)
    reasons = [
        reason
        for d in now.decisions
        if not d.allowed and d.story_id in share.story_ids
        for reason in d.reasons
    ]
    if now.share is None:
        reasons.extend(x for x in now.reasons if x.startswith(f"insight {insight.id}:"))
    if not reasons:
        reasons.append(
            f"insight {insight.id} would now be rendered differently for '{dest.name}' "
            f"(share {now.share.id if now.share else 'none'}); this version may not go"
        )
    return Recheck(share_id=share.id, allowed=False, reasons=tuple(dict.fromkeys(reasons)))
