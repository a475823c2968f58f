"""Adaptive Cards for the ``teams-workflow`` adapter, kept under the Teams message size limit.

Teams rejects a message over about 28 KB with "Request Entity too large" (the Microsoft Teams
connector's known limitations, https://learn.microsoft.com/ja-jp/Connectors/teams/, and "Create
Incoming Webhooks", https://learn.microsoft.com/zh-CN/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook).
:func:`fit_message` measures the exact UTF-8 JSON that will be sent and shortens the body (then
the quotes, then the title) until it fits, saying on the card that it was shortened.

The envelope a Workflows webhook ("When a Teams webhook request is received") takes is a message
with one Adaptive Card attachment:
``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
"contentUrl": null, "content": {"type": "AdaptiveCard", "version": "1.4", "body": [...]}}]}``
(https://learn.microsoft.com/en-in/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using:
Workflows take Adaptive Cards only).
"""

from __future__ import annotations

import json
from typing import Any

from coprolib.records import Share

#: Teams' limit is about 28 KB; stay under it with room for the HTTP framing.
DEFAULT_MAX_BYTES = 27 * 1024
CARD_VERSION = "1.4"
SHORTENED = "(Shortened to fit Teams. The full text is in the board's records.)"
ELLIPSIS = "…"


def encode(message: dict[str, Any]) -> bytes:
    """The exact bytes sent: compact JSON, UTF-8."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def envelope(card: dict[str, Any]) -> dict[str, Any]:
    """A Teams message carrying one Adaptive Card."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _card(body: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
    }


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _facts(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in pairs if v]}


def insight_card(
    share: Share,
    *,
    board: str,
    body: str | None = None,
    quotes: tuple[str, ...] | None = None,
    title: str | None = None,
    shortened: bool = False,
) -> dict[str, Any]:
    """The card announcing a newly shared insight (or feedback share) to the board channel."""
    heading = "New insight shared with " + board
    blocks: list[dict[str, Any]] = [
        _text(heading, size="Small", weight="Bolder", isSubtle=True),
        _text(share.title if title is None else title, size="Large", weight="Bolder"),
        _text(share.body if body is None else body),
    ]
    if share.recommendation:
        recommendation = _cut(share.recommendation, 1000) if shortened else share.recommendation
        blocks.append(_text("Recommendation: " + recommendation, weight="Bolder"))
    shown = tuple(q.text for q in share.quotes) if quotes is None else quotes
    for quote in shown:
        blocks.append(
            {
                "type": "Container",
                "style": "emphasis",
                "items": [_text(f"“{quote}”", isSubtle=True)],
            }
        )
    if shortened:
        blocks.append(_text(SHORTENED, size="Small", isSubtle=True))
    blocks.append(
        _facts(
            [
                ("Domain", str(share.domain.value) if share.domain else ""),
                (
                    "Themes",
                    _cut(", ".join(share.themes), 500) if shortened else ", ".join(share.themes),
                ),
                ("Voices", f"{share.contributor_count} contributor(s), {share.identity_level}"),
                ("Shared on", share.planned_at.strftime("%d %B %Y")),
                ("Reference", share.idempotency_key),
            ]
        )
    )
    return _card(blocks)


def withdrawal_card(key: str, *, board: str) -> dict[str, Any]:
    """The follow-up card saying an earlier card was withdrawn (it repeats none of its content)."""
    return _card(
        [
            _text("Insight withdrawn", size="Large", weight="Bolder", color="Attention"),
            _text(
                f"The insight shared with {board} under the reference below has been withdrawn: "
                "the person who shared their experience no longer consents to it being used. "
                "Please do not use or forward it, and ask a channel owner to delete the earlier "
                "card with this reference."
            ),
            _facts([("Reference", key)]),
        ]
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit)].rstrip() + ELLIPSIS


def fit_message(share: Share, *, board: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The encoded announcement for ``share``, shortened until it is at most ``max_bytes``."""
    full = encode(envelope(insight_card(share, board=board)))
    if len(full) <= max_bytes:
        return full
    quotes = tuple(q.text for q in share.quotes)
    title = share.title

    def attempt(body_chars: int, quotes: tuple[str, ...], title: str) -> bytes:
        card = insight_card(
            share,
            board=board,
            body=_cut(share.body, body_chars),
            quotes=quotes,
            title=title,
            shortened=True,
        )
        return encode(envelope(card))

    for quotes_now, title_now in (
        (quotes, title),
        (tuple(_cut(q, 200) for q in quotes), title),
        ((), _cut(title, 200)),
        ((), _cut(title, 40)),
    ):
        if len(attempt(0, quotes_now, title_now)) > max_bytes:
            continue
        low, high = 0, len(share.body)
        while low < high:  # the longest body prefix that fits
            middle = (low + high + 1) // 2
            if len(attempt(middle, quotes_now, title_now)) <= max_bytes:
                low = middle
            else:
                high = middle - 1
        return attempt(low, quotes_now, title_now)
    raise ValueError(f"even a minimal card is over {max_bytes} bytes")
