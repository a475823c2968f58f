"""Consent receipts: what a contributor agreed to, who will see it and how to withdraw.

Three forms of the same facts: plain language (:func:`consent_receipt`), Easy Read (short
sentences, one idea a line: ``easy_read=True``) and a JSON record shaped like ISO/IEC TS 27560
(:func:`consent_receipt_json`: header, processing, parties, events).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from coprolib.config import Destination
from coprolib.consent import decide, teller_state
from coprolib.planner.routing import request_for
from coprolib.records import Consent, ConsentEvent, ConsentTerms, Contributor, Story
from coprolib.records.enums import (
    Audience,
    ConsentEventType,
    ConsentMethod,
    DecisionBasis,
    IdentityLevel,
    Purpose,
    Support,
)

__all__ = ["consent_receipt", "consent_receipt_json"]

RECEIPT_SCHEMA = "ISO/IEC TS 27560:2023 (shape); coprolib consent receipt 1"

_PURPOSE_WORDS = {
    Purpose.SERVICE_IMPROVEMENT: "improving services",
    Purpose.COMMISSIONING: "deciding which services to pay for (commissioning)",
    Purpose.TRAINING: "training staff",
    Purpose.PRACTICE_GUIDANCE: "guidance for practitioners",
    Purpose.POLICY: "writing policy",
    Purpose.BOARD_REPORTING: "reports to the Safeguarding Adults Board",
    Purpose.RESEARCH: "research",
    Purpose.PUBLICATION: "publishing for anyone to read",
    Purpose.PEER_SUPPORT: "peer support",
}
_AUDIENCE_WORDS = {
    Audience.INTERNAL: "the organisation that collected your story",
    Audience.PARTNERS: "partner organisations (council, NHS, police, voluntary sector)",
    Audience.BOARD: "the Safeguarding Adults Board",
    Audience.PUBLIC: "the public",
}
_IDENTITY_WORDS = {
    IdentityLevel.ANONYMOUS: "anonymous: no name, and the details you told us that could "
    "identify you are taken out",
    IdentityLevel.PSEUDONYMOUS: "under a made-up name: your real name and the details you told "
    "us that could identify you are taken out",
    IdentityLevel.NAMED: "with your name",
}
_EASY_PURPOSE = {
    Purpose.SERVICE_IMPROVEMENT: "to make services better",
    Purpose.COMMISSIONING: "to decide which services to pay for",
    Purpose.TRAINING: "to train staff",
    Purpose.PRACTICE_GUIDANCE: "to help workers do their jobs well",
    Purpose.POLICY: "to write rules and plans",
    Purpose.BOARD_REPORTING: "for reports to the Safeguarding Adults Board",
    Purpose.RESEARCH: "for research",
    Purpose.PUBLICATION: "to put it out for anyone to read",
    Purpose.PEER_SUPPORT: "for peer support groups",
}
_EASY_AUDIENCE = {
    Audience.INTERNAL: "the people who collected your story",
    Audience.PARTNERS: "other services, like the council and the NHS",
    Audience.BOARD: "the Safeguarding Adults Board",
    Audience.PUBLIC: "anyone",
}
_EASY_IDENTITY = {
    IdentityLevel.ANONYMOUS: "We will not use your name.",
    IdentityLevel.PSEUDONYMOUS: "We will use a made-up name, not your real name.",
    IdentityLevel.NAMED: "We will use your name.",
}
_BASIS_WORDS = {
    DecisionBasis.OWN_CONSENT: "your own decision",
    DecisionBasis.SUPPORTED_DECISION: "your decision, made with support",
    DecisionBasis.ATTORNEY_OR_DEPUTY: "a decision by your attorney or deputy",
    DecisionBasis.BEST_INTERESTS: "a best-interests decision made for you",
}


def _date(value: dt.date | dt.datetime) -> str:
    day = value.date() if isinstance(value, dt.datetime) else value
    return f"{day.day} {day:%B %Y}"


def _status_words(consent: Consent, moment: dt.datetime, story_id: str | None = None) -> str:
    state = consent.state_at(moment, story_id)
    if state.active and state.terms is not None:
        t = state.terms
        if t.expires is not None and moment.date() > t.expires:
            return f"ended on {_date(t.expires)}"
        if t.share_not_before is not None and moment.date() < t.share_not_before:
            return f"agreed; nothing will be shared before {_date(t.share_not_before)}"
        return "in force"
    last = consent.events[state.version - 1] if state.version else None
    when = f" on {_date(last.at)}" if last is not None else ""
    return {
        "withdrawn": f"withdrawn{when}",
        "expired": f"ended{when}",
        "refused": f"refused{when}",
    }.get(state.status, "not yet given")


def _latest_terms(consent: Consent, moment: dt.datetime) -> ConsentTerms | None:
    state = consent.state_at(moment)
    if state.terms is not None:
        return state.terms
    terms = None
    for ev in consent.events:
        if ev.terms is not None and ev.at <= moment:
            terms = ev.terms
    return terms


def _where(
    consent: Consent,
    stories: Iterable[Story],
    destinations: Iterable[Destination],
    moment: dt.datetime,
) -> list[Destination]:
    """The destinations at least one of the consent's stories may go to now, by this consent,
    as :func:`coprolib.consent.decide` answers (nothing is re-decided here)."""
    covered = [s for s in stories if consent.covers(s.id)]
    out = []
    for dest in destinations:
        if dest.carries_feedback:  # feedback destinations never receive a story
            continue
        request = request_for(dest, None, moment)
        for story in covered:
            mine = teller_state(consent.contributor_id, story.id, [consent], moment)
            if decide(story, (), request, tellers=(mine,)).allowed:
                out.append(dest)
                break
    return out


def _story_lines(consent: Consent, stories: Iterable[Story], moment: dt.datetime) -> list[str]:
    """Each story the consent covers, with its own status (a story withdrawn on its own)."""
    ids = consent.story_ids or tuple(s.id for s in stories if consent.covers(s.id))
    return [f"{sid}: {_status_words(consent, moment, sid)}" for sid in ids]


def _withdraw_how(consent: Consent, contributor: Contributor | None) -> str:
    via = (contributor.supporting_org if contributor else None) or consent.supported_by
    who = (
        f"{via} or the team who collected your story"
        if via
        else "the team who collected your story"
    )
    return (
        f"You can change your mind at any time, without giving a reason: tell {who}. "
        f"Anything already shared will be taken back, and we will tell you when it has been."
    )


def consent_receipt(
    consent: Consent,
    contributor: Contributor | None = None,
    *,
    destinations: Iterable[Destination] = (),
    moment: dt.datetime | None = None,
    easy_read: bool = False,
    stories: Iterable[Story] = (),
) -> str:
    """The receipt as text: what they agreed to, each story's status, who will see it, how to
    withdraw.

    ``destinations`` (from the configuration) are listed where one of ``stories`` (the stories
    the consent covers) may go now. ``easy_read=True`` gives short sentences, one idea a line.
    """
    moment = moment or dt.datetime.now(dt.UTC)
    stories = tuple(stories)
    terms = _latest_terms(consent, moment)
    name = contributor.display_name if contributor and contributor.display_name else None
    per_story = _story_lines(consent, stories, moment)
    fits = _where(consent, stories, destinations, moment)
    status = _status_words(consent, moment)
    if easy_read:
        return _easy_read(consent, terms, name, fits, status, contributor, per_story)
    lines = [
        f"Consent receipt {consent.id} (version {consent.version})",
        f"For: {name + ' (' + consent.contributor_id + ')' if name else consent.contributor_id}",
        f"Given: {_date(consent.events[0].at)}, {consent.method.replace('_', ' ')}, "
        f"{_BASIS_WORDS[consent.basis]}"
        + (
            f", supported by {consent.supported_by or consent.support.replace('_', ' ')}"
            if consent.support is not Support.NONE
            else ""
        ),
        "Stories: " + ("; ".join(per_story) if per_story else "all your stories"),
        f"Status: {status}",
        "",
    ]
    if terms is None:
        lines.append("You did not agree to any sharing, so nothing from your stories is shared.")
    else:
        lines += [
            "What you agreed to",
            "- Used for: " + "; ".join(_PURPOSE_WORDS[p] for p in terms.purposes) + ".",
            "- Who may see it: " + "; ".join(_AUDIENCE_WORDS[a] for a in terms.audiences) + ".",
            f"- How you are identified: {_IDENTITY_WORDS[terms.identity_level]}.",
            "- Your own words: "
            + ("may be quoted." if terms.quotes_allowed else "will not be quoted."),
        ]
        if terms.review_before_sharing:
            lines.append("- You will see the words before anything is shared, and can say no.")
        if terms.share_not_before is not None:
            lines.append(f"- Nothing is shared before {_date(terms.share_not_before)}.")
        if terms.expires is not None:
            lines.append(f"- Your agreement ends on {_date(terms.expires)}.")
        if terms.denied_destinations:
            lines.append("- Never shared with: " + ", ".join(terms.denied_destinations) + ".")
        if fits:
            lines += ["", "Where it may go now"]
            lines += [
                f"- {d.name} ({_AUDIENCE_WORDS[d.audience]})"
                for d in fits
                if d.audience is not None
            ]
    lines += ["", "How to withdraw", _withdraw_how(consent, contributor)]
    history = [_event_words(ev) for ev in consent.events]
    lines += ["", "History", *(f"- {h}" for h in history)]
    return "\n".join(lines) + "\n"


def _event_words(ev: ConsentEvent) -> str:
    when = _date(ev.at)
    kind = ev.type
    only = f" for {', '.join(ev.story_ids)} only" if ev.story_ids else ""
    if kind is ConsentEventType.WITHDRAWN and (ev.purposes or ev.audiences):
        parts = [_PURPOSE_WORDS[p] for p in ev.purposes] + [
            _AUDIENCE_WORDS[a] for a in ev.audiences
        ]
        text = f"{when}: you said no more to: {'; '.join(parts)}{only}"
    elif kind is ConsentEventType.WITHDRAWN and ev.story_ids:
        text = f"{when}: you withdrew {', '.join(ev.story_ids)}; your other stories are unchanged"
    else:
        text = {
            ConsentEventType.GIVEN: f"{when}: consent given",
            ConsentEventType.REFUSED: f"{when}: consent refused",
            ConsentEventType.WITHDRAWN: f"{when}: consent withdrawn",
            ConsentEventType.EXPIRED: f"{when}: consent ended",
            ConsentEventType.RENEWED: f"{when}: consent renewed",
            ConsentEventType.OVERRIDE: f"{when}: a decision to share was made by "
            f"{ev.approver} because: {ev.reason}",
            ConsentEventType.APPROVED: f"{when}: you approved the words of insight {ev.insight_id}",
        }[kind]
    if ev.reason and kind is not ConsentEventType.OVERRIDE:
        text += f" ({ev.reason})"
    return text


def _easy_read(
    consent: Consent,
    terms: ConsentTerms | None,
    name: str | None,
    fits: list[Destination],
    status: str,
    contributor: Contributor | None,
    per_story: list[str],
) -> str:
    lines = [f"Your consent: {consent.id}", ""]
    if name:
        lines.append(f"This is for {name}.")
    lines.append(f"You said yes on {_date(consent.events[0].at)}." if terms else "You said no.")
    if consent.method is ConsentMethod.EASY_READ:
        lines.append("You used an Easy Read form.")
    if consent.support is not Support.NONE:
        lines.append(f"{consent.supported_by or 'Someone'} helped you decide.")
    lines.append(f"Right now your consent is: {status}.")
    for line in per_story:
        lines.append(f"Story {line}.")
    lines.append("")
    if terms is not None:
        lines.append("We can use your story for:")
        lines += [f"- {_EASY_PURPOSE[p]}" for p in terms.purposes]
        lines.append("")
        lines.append("These people can see it:")
        lines += [f"- {_EASY_AUDIENCE[a]}" for a in terms.audiences]
        lines.append("")
        lines.append(_EASY_IDENTITY[terms.identity_level])
        lines.append(
            "We can use your own words."
            if terms.quotes_allowed
            else "We will not use your own words."
        )
        if terms.review_before_sharing:
            lines.append("We will show you the words first.")
            lines.append("You can say no.")
        if terms.share_not_before is not None:
            lines.append(f"We will wait until {_date(terms.share_not_before)}.")
        if terms.expires is not None:
            lines.append(f"We will stop on {_date(terms.expires)}.")
        if fits:
            lines.append("")
            lines.append("It can go to:")
            lines += [f"- {d.name}" for d in fits]
    via = (contributor.supporting_org if contributor else None) or consent.supported_by
    lines += [
        "",
        "You can change your mind.",
        "You can do this at any time.",
        "You do not have to say why.",
        f"Tell {via}." if via else "Tell the person who talked to you about your story.",
        "We will take back what we shared.",
        "We will tell you when we have done it.",
    ]
    return "\n".join(lines) + "\n"


def _event_state(consent: Consent, index: int) -> str:
    ev = consent.events[index]
    state = consent.state_at(ev.at)
    # Events at the same instant fold together; report the state right after this one.
    return state.status if state.status != "none" else "none"


def consent_receipt_json(
    consent: Consent,
    contributor: Contributor | None = None,
    *,
    destinations: Iterable[Destination] = (),
    controller: str = "the organisation that collected the story",
    moment: dt.datetime | None = None,
    jurisdiction: str = "GB",
    stories: Iterable[Story] = (),
) -> dict[str, Any]:
    """The receipt as data shaped like an ISO/IEC TS 27560 consent record (``stories``: those
    the consent covers, each with its own status; recipients where one of them may go now)."""
    moment = moment or dt.datetime.now(dt.UTC)
    stories = tuple(stories)
    terms = _latest_terms(consent, moment)
    state = consent.state_at(moment)
    fits = _where(consent, stories, destinations, moment)
    parties: list[dict[str, Any]] = [
        {
            "role": "principal",
            "id": consent.contributor_id,
            "name": (contributor.display_name if contributor else None),
        },
        {"role": "controller", "name": controller},
    ]
    if consent.support is not Support.NONE:
        parties.append(
            {"role": "supporter", "kind": str(consent.support), "name": consent.supported_by}
        )
    parties += [{"role": "recipient", "name": d.name, "audience": str(d.audience)} for d in fits]
    return {
        "header": {
            "schema_version": RECEIPT_SCHEMA,
            "record_id": consent.id,
            "record_version": consent.version,
            "principal_id": consent.contributor_id,
            "generated_at": moment.isoformat(),
            "status": state.status,
        },
        "processing": {
            "purposes": [str(p) for p in terms.purposes] if terms else [],
            "personal_data_categories": [
                "lived-experience story",
                *(["quotations"] if terms and terms.quotes_allowed else []),
            ],
            "subject_stories": list(consent.story_ids) or "all",
            "story_status": {
                sid: consent.state_at(moment, sid).status
                for sid in consent.story_ids or [x.id for x in stories if consent.covers(x.id)]
            },
            "controllers": [controller],
            "recipients": [str(a) for a in terms.audiences] if terms else [],
            "identity_level": str(terms.identity_level) if terms else None,
            "review_before_sharing": bool(terms and terms.review_before_sharing),
            "denied_recipients": list(terms.denied_destinations) if terms else [],
            "retention": {
                "share_not_before": terms.share_not_before.isoformat()
                if terms and terms.share_not_before
                else None,
                "expires": terms.expires.isoformat() if terms and terms.expires else None,
            },
            "jurisdiction": jurisdiction,
            "legal_basis": "consent",
            "decision_basis": str(consent.basis),
            "collection_method": str(consent.method),
            "withdrawal_method": _withdraw_how(consent, contributor),
        },
        "parties": parties,
        "events": [
            {
                "type": str(ev.type),
                "time": ev.at.isoformat(),
                "state": _event_state(consent, i),
                "recorded_by": ev.recorded_by,
                **({"reason": ev.reason} if ev.reason else {}),
                **({"approver": ev.approver} if ev.approver else {}),
                **(
                    {"insight_id": ev.insight_id, "text_digest": ev.text_digest}
                    if ev.insight_id
                    else {}
                ),
                **(
                    {
                        "narrowed_purposes": [str(p) for p in ev.purposes],
                        "narrowed_audiences": [str(a) for a in ev.audiences],
                        "narrowed_stories": list(ev.story_ids),
                    }
                    if ev.purposes or ev.audiences or ev.story_ids
                    else {}
                ),
            }
            for i, ev in enumerate(consent.events)
        ],
    }
