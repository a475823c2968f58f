"""Feedback owed to contributors: what is due, what is overdue, sending it, marking it done.

The planner creates the obligations (``scheduled`` before a share goes, ``shared`` after it);
:func:`feedback_due` and :func:`feedback_done` are what ``coprolib feedback due`` and
``coprolib feedback done`` call. :func:`plan_feedback` (run by ``coprolib plan``) turns owed
feedback into feedback shares for the destinations that carry feedback, and the delivery engine
marks each one sent (:func:`mark_feedback_sent`) when its receipt is recorded.

So that what a person hears makes sense to them: new obligations are recorded through
:func:`owe_feedback`, which keeps one withdrawal confirmation however often they withdraw and
folds the outcome changes about one contributor on one day into one message;
:func:`cancel_owed_feedback` cancels everything still owed to a person (for erasure to call);
and a ``scheduled`` message is worded from the share as it is when the message is sent
(:func:`scheduled_message`), not from a share since re-rendered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import attrs

from coprolib.consent import teller_state
from coprolib.errors import CoprolibError
from coprolib.ledger import ShareStatus
from coprolib.records import Consent, Contributor, Feedback, Receipt, Recipient, Share
from coprolib.records.enums import (
    FeedbackChannel,
    FeedbackKind,
    FeedbackStatus,
    IdentityLevel,
    ShareKind,
)

if TYPE_CHECKING:
    from coprolib.config import Config, Destination
    from coprolib.ledger import Ledger

__all__ = [
    "FeedbackNotFound",
    "FeedbackPlan",
    "ForAPerson",
    "cancel_owed_feedback",
    "feedback_done",
    "feedback_due",
    "feedback_refusal",
    "is_about_outcome",
    "mark_feedback_sent",
    "owe_feedback",
    "plan_feedback",
    "scheduled_message",
]

#: Channels where a person gives the feedback (a call, a visit, through a supporter).
BY_HAND = (FeedbackChannel.PHONE, FeedbackChannel.IN_PERSON, FeedbackChannel.VIA_SUPPORTER)

#: The contact detail each sendable channel needs, as the Recipient field that carries it.
_NEEDS = {
    FeedbackChannel.EMAIL: ("email", "email address"),
    FeedbackChannel.SMS: ("phone", "phone number"),
    FeedbackChannel.LETTER: ("postal_address", "postal address"),
}

_TITLES = {
    FeedbackKind.SCHEDULED: "What we will share from your story",
    FeedbackKind.SHARED: "What happened with your story",
    FeedbackKind.CHANGE_UPDATE: "What has changed because of your story",
    FeedbackKind.NOT_DONE: "What was not done, and why",
    FeedbackKind.WITHDRAWAL_CONFIRMED: "We have recorded your withdrawal",
}

#: Kinds told about an outcome's change; those to one contributor on one day are one message.
_OUTCOME_KINDS = (FeedbackKind.CHANGE_UPDATE, FeedbackKind.NOT_DONE)

_make_share = cast(Callable[..., Share], Share)
_make_recipient = cast(Callable[..., Recipient], Recipient)
_evolve = cast(Callable[..., Any], attrs.evolve)


class FeedbackNotFound(CoprolibError, LookupError):
    """No feedback obligation has this id."""


def feedback_due(
    ledger: Ledger, *, overdue: bool = False, today: dt.date | None = None
) -> list[Feedback]:
    """Feedback still owed, soonest due first; with ``overdue``, only what is past its due date."""
    today = today or dt.datetime.now(dt.UTC).date()
    owed = [f for f in ledger.list(Feedback) if f.status is FeedbackStatus.OWED]
    if overdue:
        owed = [f for f in owed if f.due is not None and f.due < today]
    return sorted(owed, key=lambda f: (f.due or dt.date.max, f.id))


def feedback_done(
    ledger: Ledger, feedback_id: str, note: str, *, on: dt.date | None = None
) -> Feedback:
    """Record that a feedback obligation was met, with a note of what was said."""
    if not note.strip():
        raise ValueError("note: say what the contributor was told")
    with ledger.transaction():
        found = ledger.get(Feedback, feedback_id)
        if found is None:
            raise FeedbackNotFound(f"feedback {feedback_id!r} is not in the ledger")
        done: Feedback = cast(Callable[..., Any], attrs.evolve)(
            found,
            status=FeedbackStatus.DONE,
            sent_on=on or dt.datetime.now(dt.UTC).date(),
            note=note,
        )
        ledger.replace(done)
    return done


# --- recording and cancelling obligations ------------------------------------------------------


def owe_feedback(ledger: Ledger, owed: Iterable[Feedback]) -> tuple[Feedback, ...]:
    """Record new feedback obligations so that a person is told each thing once; returns the
    obligation that stands for each one given (new, merged into one owed already, or the one
    already recorded), in order. Joins the caller's transaction.

    - An obligation whose id is recorded already is left as it is (recording is idempotent).
    - A ``withdrawal_confirmed`` whose stories and words an earlier confirmation to the same
      contributor already covers (owed, sent or done) is not owed again: withdrawing twice owes
      one confirmation. One still owed for other stories takes in the new ones instead.
    - A ``change_update`` or ``not_done`` to a contributor who is already owed one of the same
      kind recorded the same day is folded into it: one message with each change in turn.
    """
    stood: list[Feedback] = []
    with ledger.transaction():
        for fb in owed:
            recorded = ledger.get(Feedback, fb.id)
            if recorded is not None:
                stood.append(recorded)
                continue
            earlier = [
                f
                for f in ledger.list(Feedback, contributor=fb.contributor_id)
                if f.contributor_id == fb.contributor_id
                and f.kind is fb.kind
                and f.status is not FeedbackStatus.CANCELLED
            ]
            into = _fold_into(fb, earlier)
            if into is None:
                ledger.add(fb)
                stood.append(fb)
            elif into is fb:
                stood.append(fb)
            else:
                if into != ledger.get(Feedback, into.id):
                    ledger.replace(into)
                stood.append(into)
    return tuple(stood)


def _fold_into(fb: Feedback, earlier: list[Feedback]) -> Feedback | None:
    """The obligation ``fb`` becomes part of (updated), or None when it stands alone."""
    owed = [f for f in earlier if f.status is FeedbackStatus.OWED]
    if fb.kind is FeedbackKind.WITHDRAWAL_CONFIRMED:
        new = set(fb.story_ids)
        for f in earlier:
            if new <= set(f.story_ids) and f.message == fb.message:
                return f
        if not owed:
            return None
        into = owed[0]
        covers = new >= set(into.story_ids)
        message = fb.message if covers else _join(into.message, fb.message)
        return _merged(into, fb, message)
    if fb.kind in _OUTCOME_KINDS:
        day = _day(fb)
        for into in owed:
            if _day(into) != day:
                continue
            if fb.message and into.message and fb.message in into.message:
                return into
            return _merged(into, fb, _join(into.message, fb.message))
    return None


def _day(fb: Feedback) -> dt.date | None:
    return fb.created_at.date() if fb.created_at is not None else fb.due


def _join(first: str | None, second: str | None) -> str | None:
    parts = [m.strip() for m in (first, second) if m and m.strip()]
    return "\n\n".join(parts) or None


def _also_about(outcome_id: str) -> str:
    return f"also about outcome {outcome_id}"


def is_about_outcome(feedback: Feedback, outcome_id: str) -> bool:
    """Whether ``feedback`` tells its contributor about ``outcome_id``: its own outcome, or one
    folded into the same message (see :func:`owe_feedback`)."""
    return feedback.outcome_id == outcome_id or _also_about(outcome_id) in (feedback.note or "")


def _merged(into: Feedback, fb: Feedback, message: str | None) -> Feedback:
    stories = tuple(dict.fromkeys((*into.story_ids, *fb.story_ids)))
    due = min((d for d in (into.due, fb.due) if d is not None), default=None)
    note = _join(into.note, fb.note) if fb.note != into.note else into.note
    if fb.outcome_id is not None and fb.outcome_id != into.outcome_id:
        # One message about several outcomes: the note keeps which, for `outcome show`.
        also = _also_about(fb.outcome_id)
        if also not in (note or ""):
            note = _join(note, also)
    merged: Feedback = _evolve(into, story_ids=stories, message=message, due=due, note=note)
    return merged


def cancel_owed_feedback(
    ledger: Ledger, contributor_id: str, *, reason: str = "erased", on: dt.date | None = None
) -> tuple[str, ...]:
    """Cancel every feedback obligation still owed to ``contributor_id`` (for example when they
    are erased: nothing more is said to someone whose data is gone); returns the ids cancelled.

    ``reason`` is kept as the obligation's note with the date, so it must hold no personal data.
    Obligations already sent or done are left as they are. A feedback share already queued for
    one of them is refused at the send boundary (see :func:`feedback_refusal`), so nothing more
    reaches the person. Joins the caller's transaction; calling it again cancels nothing more.
    """
    day = (on or dt.datetime.now(dt.UTC).date()).isoformat()
    cancelled: list[str] = []
    with ledger.transaction():
        for fb in list(ledger.list(Feedback, contributor=contributor_id)):
            if fb.contributor_id != contributor_id or fb.status is not FeedbackStatus.OWED:
                continue
            ledger.replace(_evolve(fb, status=FeedbackStatus.CANCELLED, note=f"{reason} on {day}"))
            cancelled.append(fb.id)
    return tuple(cancelled)


def scheduled_message(share: Share, destination: Destination, on: dt.date) -> str:
    """The words of a ``scheduled`` obligation: what from their story goes where, from ``on``,
    as ``share`` (the share as it is now) has it."""
    what = "without quotes" if not share.quotes else f"with {len(share.quotes)} quote(s)"
    return (
        f"From {on.isoformat()} what we learned from your story, "
        f'"{share.title}", will be shared with {destination.name} '
        f"(audience: {destination.audience}), {share.identity_level}, {what}."
    )


def _planned_before(ledger: Ledger, fb: Feedback, destination: str) -> str:
    """The id of ``fb``'s feedback share at ``destination``: for a ``scheduled`` message, the
    one describing its share as it is; one queued under the identity without the share (before
    messages named it) still counts when it says the same."""
    share_id, _ = feedback_share_identity(fb.id, destination, _describes(fb))
    if _describes(fb) is not None and ledger.get_share(share_id) is None:
        legacy, _ = feedback_share_identity(fb.id, destination)
        found = ledger.get_share(legacy)
        if found is not None and found.share.body == fb.message:
            return legacy
    return share_id


def _current_share(ledger: Ledger, fb: Feedback) -> Share | None:
    """The live share (planned or delivered) of ``fb``'s insight at its destination: the one
    the words must describe when the message goes, whichever share the obligation began with."""
    if fb.insight_id is None or fb.destination is None:
        return None
    live = [
        row.share
        for row in ledger.list_shares(destination=fb.destination, subject_id=fb.insight_id)
        if row.status in (ShareStatus.PLANNED, ShareStatus.DELIVERED)
    ]
    return live[-1] if live else None


# --- sending owed feedback ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ForAPerson:
    """Owed feedback :func:`plan_feedback` cannot send: a person must give it, and why."""

    feedback_id: str
    contributor_id: str
    channel: FeedbackChannel
    reason: str


@attrs.frozen(kw_only=True)
class FeedbackPlan:
    """What :func:`plan_feedback` planned: new feedback shares (each with a ``deliver`` job),
    feedback left for a person to give, and feedback held back for now, with the reason."""

    deliver: tuple[Share, ...] = ()
    for_a_person: tuple[ForAPerson, ...] = ()
    waiting: tuple[tuple[str, str], ...] = ()

    def lines(self) -> list[str]:
        """The plan in plain words, one line per share or item."""
        out = [
            f"feedback  {s.id}  {s.subject_id} -> {s.destination} ({s.channel})"
            for s in self.deliver
        ]
        out += [
            f"by hand   {p.feedback_id}  {p.contributor_id} ({p.channel}): {p.reason}"
            for p in self.for_a_person
        ]
        out += [f"waiting   {fid}: {why}" for fid, why in self.waiting]
        return out


def feedback_share_identity(
    feedback_id: str, destination: str, describes: str | None = None
) -> tuple[str, str]:
    """The ``(share id, idempotency key)`` of a feedback obligation sent to a destination: fixed
    by the two alone, so planning again never sends it twice, whatever the wording. A
    ``scheduled`` message also names the share it ``describes``: when that share is re-rendered
    the message is a new one, and the old one, if still queued, is refused at sending."""
    parts = (
        [feedback_id, destination] if describes is None else [feedback_id, destination, describes]
    )
    base = hashlib.sha256("\x1f".join(["feedback", *parts]).encode()).hexdigest()
    return f"sh-{base[:20]}", f"coprolib-{base[:40]}"


def _describes(feedback: Feedback) -> str | None:
    return feedback.share_id if feedback.kind is FeedbackKind.SCHEDULED else None


def feedback_refusal(
    ledger: Ledger,
    feedback: Feedback,
    now: dt.datetime,
    consents: Iterable[Consent] | None = None,
    *,
    share: Share | None = None,
) -> str | None:
    """Why ``feedback`` must not be sent now, or None.

    Feedback to a contributor about their own story is not a share of that story, so it needs no
    sharing consent. But once they have withdrawn consent for a story it is about, only the
    confirmation of that withdrawal may still reach them (they asked to stop; that message is the
    proof it stopped). Feedback no longer owed (done by hand, cancelled) is not sent either.
    Given the feedback ``share`` about to go, a ``scheduled`` message worded from a share that
    has been re-rendered since is refused: the next plan words it from the share as it is.
    """
    if feedback.status is not FeedbackStatus.OWED:
        return f"feedback {feedback.id} is {feedback.status}, not owed"
    if (
        share is not None
        and feedback.kind is FeedbackKind.SCHEDULED
        and share.body != feedback.message
    ):
        return (
            f"feedback {feedback.id} was worded from a share since re-rendered; "
            "the next plan words it again"
        )
    if feedback.kind is FeedbackKind.WITHDRAWAL_CONFIRMED:
        return None
    cid = feedback.contributor_id
    theirs = [
        c
        for c in (consents if consents is not None else ledger.list(Consent, contributor=cid))
        if c.contributor_id == cid
    ]
    if feedback.story_ids:
        for sid in feedback.story_ids:
            state = teller_state(cid, sid, theirs, now).state
            if state is not None and state.status == "withdrawn":
                return f"contributor {cid} withdrew consent for story {sid}"
    elif theirs and all(c.state_at(now).status == "withdrawn" for c in theirs):
        return f"contributor {cid} withdrew consent"
    return None


def _recipient(person: Contributor, channel: FeedbackChannel) -> Recipient | None:
    field, _ = _NEEDS[channel]
    value = getattr(person.contact, field)
    if not value or not str(value).strip():
        return None
    return _make_recipient(
        name=person.display_name,
        easy_read=person.accessibility.easy_read,
        language=person.accessibility.language,
        **{field: value},
    )


def render_feedback(
    feedback: Feedback, person: Contributor, dest: Destination, moment: dt.datetime
) -> Share | None:
    """The feedback share of ``feedback`` for ``dest``: the message, addressed with only what
    its channel needs; None if the contributor has no such contact detail."""
    recipient = _recipient(person, feedback.channel)
    if recipient is None or not feedback.message:
        return None
    title = _TITLES[feedback.kind]
    content: Mapping[str, Any] = {
        "kind": "feedback",
        "destination": dest.name,
        "subject_id": feedback.id,
        "feedback_kind": str(feedback.kind),
        "channel": str(feedback.channel),
        "title": title,
        "body": feedback.message,
        "recipient": attrs.asdict(recipient),
    }
    data = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    share_id, key = feedback_share_identity(feedback.id, dest.name, _describes(feedback))
    return _make_share(
        id=share_id,
        kind=ShareKind.FEEDBACK,
        destination=dest.name,
        subject_id=feedback.id,
        identity_level=IdentityLevel.NAMED,
        title=title,
        body=feedback.message,
        idempotency_key=key,
        digest=hashlib.sha256(data.encode("utf-8")).hexdigest(),
        planned_at=moment,
        feedback_kind=feedback.kind,
        channel=feedback.channel,
        recipient=recipient,
    )


def feedback_send_refusal(
    ledger: Ledger, share: Share, dest: Destination, now: dt.datetime
) -> str | None:
    """Why feedback ``share`` must not be sent to ``dest`` now, or None if it may go.

    It may go only as what :func:`render_feedback` makes now for the recorded feedback it
    answers: still owed (:func:`feedback_refusal`), to that contributor's current contact
    detail for its channel, through a destination that reaches the channel, and of a kind that
    is sent as written. A feedback share written into the ledger by hand answers nothing and is
    refused.
    """
    feedback = ledger.get(Feedback, share.subject_id)
    if feedback is None:
        return f"no feedback obligation {share.subject_id!r} is recorded for share {share.id}"
    if not dest.carries_feedback or feedback.channel not in dest.channels:
        return f"destination '{dest.name}' does not carry {feedback.channel} feedback"
    if feedback.kind is FeedbackKind.SHARED or feedback.channel in BY_HAND:
        return f"feedback {feedback.id} is given by a person, not sent as written"
    refused = feedback_refusal(ledger, feedback, now, share=share)
    if refused:
        return refused
    person = ledger.get(Contributor, feedback.contributor_id)
    if person is None or not person.wants_feedback:
        return f"contributor {feedback.contributor_id} does not want feedback"
    expected = render_feedback(feedback, person, dest, now)
    if expected is None or attrs.evolve(expected, planned_at=share.planned_at) != share:
        return (
            f"share {share.id} is not the message feedback {feedback.id} renders now "
            f"(its words, channel or recipient changed); plan again"
        )
    return None


def plan_feedback(
    ledger: Ledger,
    config: Config,
    moment: dt.datetime | None = None,
    *,
    destination: str | None = None,
    apply: bool = True,
) -> FeedbackPlan:
    """Turn owed feedback into feedback shares for the destinations that carry feedback.

    For each owed feedback with a message, whose contributor wants feedback, has the contact
    detail its channel needs and has not withdrawn (see :func:`feedback_refusal`), a share for
    the first destination (by name) reaching that channel is recorded with a ``deliver`` job,
    in one transaction, unless it was planned before (so planning again plans nothing new).
    ``phone``, ``in_person`` and ``via_supporter`` feedback, feedback no destination can send,
    feedback whose message was stopped at sending time (its share cancelled) and ``shared``
    feedback (what happened and how it was received needs a person's words; it waits until its
    share is delivered) are listed in :attr:`FeedbackPlan.for_a_person`. With ``apply=False``
    nothing is recorded.
    """
    from coprolib.ledger import JobKind, ShareStatus

    moment = moment or dt.datetime.now(dt.UTC)
    dests = sorted(
        (
            d
            for d in config.feedback_destinations().values()
            if destination is None or d.name == destination
        ),
        key=lambda d: d.name,
    )
    deliver: list[Share] = []
    by_hand: list[ForAPerson] = []
    waiting: list[tuple[str, str]] = []
    reworded: list[Feedback] = []
    people: dict[str, Contributor | None] = {}
    for fb in feedback_due(ledger, today=moment.date()):
        if not fb.message or not fb.message.strip():
            continue
        if fb.contributor_id not in people:
            people[fb.contributor_id] = ledger.get(Contributor, fb.contributor_id)
        person = people[fb.contributor_id]
        if person is None or not person.wants_feedback or fb.channel is FeedbackChannel.NONE:
            continue

        def person_must(reason: str, fb: Feedback = fb) -> None:
            by_hand.append(
                ForAPerson(
                    feedback_id=fb.id,
                    contributor_id=fb.contributor_id,
                    channel=fb.channel,
                    reason=reason,
                )
            )

        if fb.channel in BY_HAND:
            person_must(
                f"{fb.channel} feedback is given by a person; then `coprolib feedback done`"
            )
            continue
        reaching = [d for d in dests if fb.channel in d.channels]
        if not reaching:
            if destination is None:
                person_must(f'no destination with carries = "feedback" reaches {fb.channel}')
            continue
        dest = reaching[0]
        about = config.destinations.get(fb.destination or "")
        if fb.kind is FeedbackKind.SCHEDULED and about is not None:
            current = _current_share(ledger, fb)
            if current is None:
                waiting.append(
                    (fb.id, f"nothing of insight {fb.insight_id} is to go to {fb.destination} now")
                )
                continue
            words = scheduled_message(current, about, current.planned_at.date())
            if (words, current.id) != (fb.message, fb.share_id):
                fb = _evolve(fb, message=words, share_id=current.id)
                reworded.append(fb)
        share_id = _planned_before(ledger, fb, dest.name)
        prior = ledger.get_share(share_id)
        if prior is not None:  # planned before: the outbox (or its receipt) has it
            if prior.status in (ShareStatus.CANCELLED, ShareStatus.DEAD):
                what = (
                    "stopped before sending"
                    if prior.status is ShareStatus.CANCELLED
                    else "not delivered (dead-lettered)"
                )
                person_must(
                    f"its message was {what} (see `coprolib sync`); "
                    "give it by hand if still right, or record it done"
                )
            continue
        refused = feedback_refusal(ledger, fb, moment)
        if refused:
            waiting.append((fb.id, refused))
            continue
        if fb.kind is FeedbackKind.SHARED:
            if fb.share_id and not ledger.delivered_receipt(fb.share_id):
                waiting.append((fb.id, f"share {fb.share_id} has not been delivered yet"))
            else:
                # Its message is a note to staff; what happened and how it was received needs
                # a person's own words, so it is never sent as written.
                person_must("write what happened and how it was received, then record it done")
            continue
        share = render_feedback(fb, person, dest, moment)
        if share is None:
            _, words = _NEEDS[fb.channel]
            person_must(f"no {words} is recorded for {fb.contributor_id}")
            continue
        deliver.append(share)
    if apply and deliver:
        sent = {s.subject_id for s in deliver}
        with ledger.transaction():
            for fb in reworded:  # what is recorded as owed says what is sent
                if fb.id in sent:
                    ledger.replace(fb)
            for share in deliver:
                ledger.put_share(share, status=ShareStatus.PLANNED)
                ledger.enqueue_job(
                    JobKind.DELIVER, share.destination, share.id, share.idempotency_key
                )
    return FeedbackPlan(deliver=tuple(deliver), for_a_person=tuple(by_hand), waiting=tuple(waiting))


def mark_feedback_sent(ledger: Ledger, share: Share, receipt: Receipt) -> Feedback | None:
    """After a feedback share's receipt: its feedback is ``sent`` on the receipt's date.

    Call inside the transaction that records the receipt. Returns the updated feedback, or None
    when the share is not feedback planned from an owed obligation.
    """
    if share.kind is not ShareKind.FEEDBACK:
        return None
    found = ledger.get(Feedback, share.subject_id)
    if found is None or found.status is not FeedbackStatus.OWED:
        return None
    sent: Feedback = _evolve(found, status=FeedbackStatus.SENT, sent_on=receipt.at.date())
    ledger.replace(sent)
    return sent
