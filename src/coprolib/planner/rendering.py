"""Rendering an insight as a share: redaction for the identity level, the content digest and
the deterministic share id and idempotency key."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from coprolib.config import Destination
from coprolib.consent import Decision
from coprolib.planner._records import make_quote, make_share
from coprolib.records import ConsentRef, Insight, Share, SharedQuote
from coprolib.records.enums import IdentityLevel, ShareKind

if TYPE_CHECKING:
    from coprolib.planner.world import World
    from coprolib.redaction import Span

_RANK = {level: i for i, level in enumerate(IdentityLevel)}


def insight_text_digest(insight: Insight) -> str:
    """The sha256 (hex) of an insight's words: what a contributor approves when they review it.

    Covers the title, summary and recommendation; any change to them needs a new approval.
    """
    text = f"{insight.title}\n\n{insight.summary}\n\n{insight.recommendation}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RedactionCache:
    """Redactions already made in one plan: the spans found in each text (the same whatever the
    level) and each text as redacted for a level."""

    def __init__(self) -> None:
        self.spans: dict[tuple[str, tuple[str, ...]], tuple[Span, ...]] = {}
        self.texts: dict[tuple[str, IdentityLevel, tuple[str, ...], tuple[str, ...]], str] = {}
        self._known: dict[str, tuple[dict[str, tuple[str, ...]], tuple[str, ...]]] = {}
        self._present: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}

    def present_in(self, text: str, identifiers: tuple[str, ...]) -> tuple[str, ...]:
        """The identifiers one of whose words occurs in ``text`` (only those can match:
        redact() matches them and their parts as whole words in any case), found once per
        text and list."""
        key = (text, identifiers)
        found = self._present.get(key)
        if found is None:
            lowered = text.lower()
            found = tuple(i for i in identifiers if any(w in lowered for w in _words(i)))
            self._present[key] = found
        return found

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
                if person is None:
                    continue
                # The display name counts as an identifier too (redact() adds the parts).
                ids = (*person.known_identifiers, *filter(None, (person.display_name,)))
                if ids:
                    known[cid] = ids
        found = (known, tuple(sorted({i for ids in known.values() for i in ids})))
        self._known[insight.id] = found
        return found


class _Found:
    """A recogniser that returns spans already found (so a text is searched once per plan and
    only the placeholders differ between identity levels)."""

    name = "coprolib.planner.found"
    labels: tuple[str, ...] = ()

    def __init__(self, spans: tuple[Span, ...]) -> None:
        self.spans = spans

    def find(self, text: str) -> tuple[Span, ...]:
        """The spans found earlier in this same text."""
        return self.spans


@lru_cache(maxsize=65536)
def _words(identifier: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[^\W_]+", identifier.lower()))


def redact_for_share(
    text: str,
    level: IdentityLevel,
    identifiers: tuple[str, ...],
    withheld: tuple[str, ...] = (),
    cache: RedactionCache | None = None,
) -> str:
    """``text`` as it may leave at identity ``level``, through :func:`coprolib.redaction.redact`.

    Below "named", every recogniser runs and ``identifiers`` (the known identifiers of everyone
    whose story the insight draws on) are replaced. At "named", only ``withheld`` identifiers
    (people whose stories were refused) are replaced.
    """
    cache = cache if cache is not None else RedactionCache()
    key = (text, level, identifiers, withheld)
    hit = cache.texts.get(key)
    if hit is not None:
        return hit
    from coprolib.redaction import find_spans, redact

    # Only identifiers one of whose words occurs in the text can match (redact() matches them
    # and their parts as whole words in any case); passing just those keeps redaction fast.
    if level is IdentityLevel.NAMED:
        withheld = cache.present_in(text, withheld)
        out = (
            redact(text, IdentityLevel.PSEUDONYMOUS, withheld, recognizers=()).text
            if withheld
            else text
        )
    else:
        present = cache.present_in(text, identifiers)
        spans = cache.spans.get((text, present))
        if spans is None:
            spans = tuple(find_spans(text, present))
            cache.spans[(text, present)] = spans
        out = redact(text, level, (), recognizers=[_Found(spans)]).text if spans else text
    cache.texts[key] = out
    return out


def _digest(content: Mapping[str, object]) -> str:
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


def redelivery_key(key: str, moment: dt.datetime) -> str:
    """The idempotency key of a share delivered again after a retraction: the old key with the
    moment of planning, so the destination cannot answer from its copy of the retracted record."""
    return f"{key}-{moment:%Y%m%dT%H%M%S}"


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
            quotes.append(make_quote(text=clean(text), story_ref=label))
    content: dict[str, object] = {
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
    return make_share(
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
