"""One pass over the records: what the impact measures share (internal)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

import attrs

from coprolib.consent.folding import teller_state
from coprolib.impact.result import OverdueFeedback
from coprolib.records import Consent, Feedback, Insight, Outcome, Share, Story
from coprolib.records.enums import FeedbackKind, FeedbackStatus, OutcomeStatus, ShareKind

#: The share status that counts as shared: delivered and not being taken back.
SHARED_STATES = frozenset({"delivered"})
HEARD = frozenset({FeedbackStatus.SENT, FeedbackStatus.DONE})
WHAT_HAPPENED = frozenset({FeedbackKind.SHARED, FeedbackKind.CHANGE_UPDATE, FeedbackKind.NOT_DONE})
DELIVERED = frozenset({OutcomeStatus.IMPLEMENTED, OutcomeStatus.EVIDENCED})
# An imported timeline may skip steps: reaching any of these means the change was agreed.
AGREED_OR_LATER = (OutcomeStatus.AGREED, OutcomeStatus.IN_PROGRESS, *DELIVERED)


@attrs.define
class Index:
    """What one pass over the records learns, shared by the measures (internal)."""

    today: dt.date
    since: dt.date | None
    collected: dict[str, dt.date] = attrs.Factory(dict)  # the cohort: story -> collected on
    story_people: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    person_stories: dict[str, list[str]] = attrs.Factory(lambda: defaultdict(list))
    story_themes: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    disclosures: int = 0
    insights: list[Insight] = attrs.Factory(list)
    insight_stories: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    shared_on: dict[str, dt.date] = attrs.Factory(dict)  # insight -> first delivered share
    in_insight: set[str] = attrs.Factory(set)
    in_shared: set[str] = attrs.Factory(set)
    outcomes: list[Outcome] = attrs.Factory(list)
    outcome_stories: dict[str, set[str]] = attrs.Factory(dict)
    in_agreed: set[str] = attrs.Factory(set)
    in_delivered: set[str] = attrs.Factory(set)
    heard_on: dict[str, list[dt.date]] = attrs.Factory(lambda: defaultdict(list))
    story_first: dict[str, dt.date] = attrs.Factory(dict)  # story -> first related feedback
    told_what_happened: set[str] = attrs.Factory(set)
    told_stories: set[str] = attrs.Factory(set)
    told_in_period: set[str] = attrs.Factory(set)
    told_on: dict[str, dt.date] = attrs.Factory(dict)  # contributor -> first told what happened
    overdue: list[OverdueFeedback] = attrs.Factory(list)

    def in_period(self, day: dt.date | None) -> bool:
        """Whether an event on ``day`` falls in the period (undated events always do)."""
        return self.since is None or day is None or day >= self.since

    def add_stories(self, stories: Iterable[Story]) -> None:
        """Index every story's contributors; keep the period's non-disclosure stories."""
        for s in stories:
            self.story_people[s.id] = s.contributor_ids
            for cid in s.contributor_ids:
                self.person_stories[cid].append(s.id)
            if s.disclosure:
                self.disclosures += self.in_period(s.collected_on)
                continue
            if self.since is None or s.collected_on >= self.since:
                self.collected[s.id] = s.collected_on
                self.story_themes[s.id] = s.themes

    def add_insights(
        self,
        insights: Iterable[Insight],
        shares: Iterable[Share | tuple[Share, str]],
        consents: Iterable[Consent] = (),
    ) -> None:
        """Index insights, which of them are shared (delivered and still consented) and since
        when, and the stories behind them."""
        self.insights = list(insights)
        self.insight_stories = {i.id: i.story_ids for i in self.insights}
        end_of_today = dt.datetime.combine(self.today, dt.time.max, tzinfo=dt.UTC)
        by_person: dict[str, list[Consent]] = defaultdict(list)
        for c in consents:
            by_person[c.contributor_id].append(c)

        def withdrawn(story_id: str) -> bool:
            # Each teller's consent folded for this story (a withdrawal can name one story).
            return any(
                (t := teller_state(cid, story_id, by_person[cid], end_of_today).state) is not None
                and t.status == "withdrawn"
                for cid in self.story_people.get(story_id, ())
            )

        for share, status in share_pairs(shares):
            if share.kind is not ShareKind.INSIGHT or status not in SHARED_STATES:
                continue
            cited = share.story_ids or self.insight_stories.get(share.subject_id, ())
            if any(withdrawn(sid) for sid in cited):
                continue
            day = share.planned_at.date()
            if share.subject_id not in self.shared_on or day < self.shared_on[share.subject_id]:
                self.shared_on[share.subject_id] = day
        for i in self.insights:
            self.in_insight.update(i.story_ids)
            if i.id in self.shared_on:
                self.in_shared.update(i.story_ids)

    def add_outcomes(self, outcomes: Iterable[Outcome]) -> None:
        """Index outcomes and the stories behind those agreed and delivered."""
        self.outcomes = list(outcomes)
        for o in self.outcomes:
            behind: set[str] = set()
            for iid in o.insight_ids:
                behind.update(self.insight_stories.get(iid, ()))
            self.outcome_stories[o.id] = behind
            seen = {e.status for e in o.timeline}
            if seen.intersection(AGREED_OR_LATER):
                self.in_agreed.update(behind)
            if seen & DELIVERED:
                self.in_delivered.update(behind)

    def add_feedback(self, feedback: Iterable[Feedback]) -> None:
        """Index what is overdue (with the title of what it is about), who heard back when,
        and which stories it was about."""
        titles = {i.id: i.title for i in self.insights}
        outcome_titles = {o.id: o.title for o in self.outcomes}
        for fb in feedback:
            if fb.status is FeedbackStatus.OWED and fb.due is not None and fb.due < self.today:
                self.overdue.append(
                    OverdueFeedback(
                        feedback_id=fb.id,
                        contributor_id=fb.contributor_id,
                        kind=fb.kind,
                        due=fb.due,
                        days_overdue=(self.today - fb.due).days,
                        outcome_id=fb.outcome_id,
                        insight_id=fb.insight_id,
                        title=outcome_titles.get(fb.outcome_id or "")
                        or titles.get(fb.insight_id or ""),
                    )
                )
            if fb.status in HEARD and fb.sent_on is not None:
                self._heard(fb, fb.sent_on)
        self.overdue.sort(key=lambda o: (o.due, o.feedback_id))

    def _heard(self, fb: Feedback, sent: dt.date) -> None:
        cid = fb.contributor_id
        self.heard_on[cid].append(sent)
        what_happened = fb.kind in WHAT_HAPPENED
        if what_happened:
            self.told_what_happened.add(cid)
            if cid not in self.told_on or sent < self.told_on[cid]:
                self.told_on[cid] = sent
            if self.in_period(sent):
                self.told_in_period.add(cid)
        related: Iterable[str]
        if fb.story_ids:
            related = fb.story_ids
        else:
            theirs = set(self.person_stories.get(cid, ()))
            if fb.insight_id is not None:
                related = theirs.intersection(self.insight_stories.get(fb.insight_id, ()))
            elif fb.outcome_id is not None:
                related = theirs & self.outcome_stories.get(fb.outcome_id, set())
            else:
                related = ()
        for sid in related:
            if sid not in self.collected or cid not in self.story_people.get(sid, ()):
                continue
            if sid not in self.story_first or sent < self.story_first[sid]:
                self.story_first[sid] = sent
            if what_happened:
                self.told_stories.add(sid)


def share_pairs(shares: Iterable[Share | tuple[Share, str]]) -> Iterable[tuple[Share, str]]:
    """``(share, status)`` pairs from bare shares (counted as delivered) or such pairs."""
    for item in shares:
        if isinstance(item, tuple):
            yield item[0], str(item[1])
        else:
            yield item, "delivered"
