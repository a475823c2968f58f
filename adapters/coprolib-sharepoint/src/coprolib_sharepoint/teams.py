"""The ``teams-workflow`` adapter: an Adaptive Card in a board's Teams channel for each newly
shared insight, posted to a Power Automate Workflows webhook ("When a Teams webhook request is
received" → "Post card in a chat or channel").

A Teams message cannot be deleted through the webhook, so the adapter declares
``can_retract=False``: retraction posts a follow-up card saying the insight was withdrawn (without
repeating it) and returns a compensating action asking a channel owner to delete the original.

The trigger answers ``202 Accepted`` as soon as it has started a flow run, before the "Post card
in a chat or channel" action has run: a 202 means the workflow accepted the card, not that Teams
shows it. The receipt says exactly that; a run that fails later (the flow's owner removed from
the channel, a card Teams refuses) shows only in the flow's run history.

The webhook cannot de-duplicate either, so the adapter keeps a journal of the keys (and content
digests) it has announced: the same share delivered again is not posted again; a changed share is
announced again as an update. The journal lives in memory, and in ``state_file`` (JSON lines) if
set, so it survives restarts.

Docs followed: https://learn.microsoft.com/en-in/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
(Workflows webhooks take Adaptive Cards only),
https://learn.microsoft.com/zh-CN/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
(28 KB message limit; more than four requests a second are throttled with HTTP 429), and
https://learn.microsoft.com/ja-jp/Connectors/teams/ ("Request Entity too large" over about 28 KB).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import attrs

from coprolib.adapters import (
    Adapter,
    Capabilities,
    CheckResult,
    DeliveryResult,
    PermanentError,
    RetractRef,
    RetractResult,
    Secret,
    Status,
)
from coprolib.adapters.http import HttpClient, HttpOptions, check_endpoint, error_for_response
from coprolib.records import Share
from coprolib_sharepoint import cards

#: What the receipt of a card says: the workflow took it; Teams shows it if the run succeeds.
ACCEPTED = (
    "accepted by the Teams workflow (HTTP 202): the card appears once the flow run succeeds; "
    "if it does not, see the flow's run history in Power Automate"
)

#: 413 means the card was too large: sending it again cannot help.
STATUS_OVERRIDES = {413: Status.PERMANENT, 410: Status.DISABLED, 404: Status.DISABLED}


def _size(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if not 2048 <= value <= 28 * 1024:
        raise ValueError(f"max_card_bytes must be from 2048 to {28 * 1024}, got {value}")


@attrs.frozen(kw_only=True)
class TeamsWorkflowConfig:
    """Settings of a ``teams-workflow`` destination.

    ``webhook_url``: the Workflow's HTTP POST URL, a secret (it carries its own signature), so
    ``$env:NAME``. ``board``: the name the cards use. ``state_file``: where the journal of
    announced keys is kept between runs.
    """

    webhook_url: Secret
    board: str = "the Safeguarding Adults Board"
    state_file: str | None = None
    max_card_bytes: int = attrs.field(default=cards.DEFAULT_MAX_BYTES, validator=_size)
    http: HttpOptions = attrs.field(factory=HttpOptions)

    def __attrs_post_init__(self) -> None:
        check_endpoint(self.webhook_url.reveal(), "webhook_url", shown=str(self.webhook_url))


class TeamsWorkflowAdapter(Adapter[TeamsWorkflowConfig]):
    """Announces shared insights in a Teams channel through a Workflows webhook."""

    name = "teams-workflow"
    config_class = TeamsWorkflowConfig
    capabilities = Capabilities(max_batch_size=1, can_retract=False, can_upsert=False)

    def __init__(self, config: Any, *, destination: str | None = None) -> None:
        super().__init__(config, destination=destination)
        self.http = HttpClient(
            options=self.config.http,
            status_overrides=STATUS_OVERRIDES,
            headers={"Content-Type": "application/json"},
            redact=self.redact,
        )
        self._lock = threading.Lock()
        self._announced: dict[str, str] = {}
        self._withdrawn: set[str] = set()
        self._load_state()

    # --- the journal ----------------------------------------------------------------------

    def _load_state(self) -> None:
        path = self._state_path()
        if path is None or not path.exists():
            return
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            if entry.get("event") == "withdrawn":
                self._withdrawn.add(entry["key"])
                self._announced.pop(entry["key"], None)
            else:
                self._announced[entry["key"]] = entry.get("digest", "")
                self._withdrawn.discard(entry["key"])

    def _state_path(self) -> Path | None:
        return Path(self.config.state_file) if self.config.state_file else None

    def _record(self, event: str, key: str, digest: str = "") -> None:
        with self._lock:
            if event == "withdrawn":
                self._withdrawn.add(key)
                self._announced.pop(key, None)
            else:
                self._announced[key] = digest
                self._withdrawn.discard(key)
            path = self._state_path()
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps({"event": event, "key": key, "digest": digest}) + "\n")

    def announced(self) -> dict[str, str]:
        """Key -> content digest of every share announced and not withdrawn."""
        with self._lock:
            return dict(self._announced)

    # --- sending --------------------------------------------------------------------------

    def _post(self, body: bytes) -> None:
        kwargs: dict[str, Any] = {"data": body}
        if self.config.http.ca_bundle:
            kwargs["verify"] = self.config.http.ca_bundle
        self.http.request("POST", self.config.webhook_url.reveal(), **kwargs).close()

    def message(self, share: Share) -> bytes:
        """The encoded card announcing ``share`` (at most ``max_card_bytes``)."""
        try:
            return cards.fit_message(
                share, board=self.config.board, max_bytes=self.config.max_card_bytes
            )
        except ValueError as exc:
            raise PermanentError(f"the card cannot be made small enough: {exc}") from None

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Post the card unless this exact share was announced already."""
        previous = self.announced().get(share.idempotency_key)
        if previous != share.digest:
            self._post(self.message(share))
            self._record("announced", share.idempotency_key, share.digest)
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=Status.OK,
            remote_id=share.idempotency_key,
            message=ACCEPTED if previous != share.digest else "already accepted by the workflow",
        )

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Post a withdrawal card; a channel owner must delete the original by hand."""
        card = cards.withdrawal_card(ref.idempotency_key, board=self.config.board)
        self._post(cards.encode(cards.envelope(card)))
        self._record("withdrawn", ref.idempotency_key)
        return RetractResult(
            share_id=ref.share_id,
            idempotency_key=ref.idempotency_key,
            remote_id=ref.remote_id,
            status=Status.OK,
            retracted=False,
            compensating_action=(
                f"Teams messages cannot be deleted through the Workflows webhook: a withdrawal "
                f"notice for the channel ({self.destination}) was accepted by the workflow (HTTP "
                f"202; check the flow's run history if it does not appear). A channel owner must "
                f"delete the card with reference {ref.idempotency_key}."
            ),
        )

    def check(self) -> CheckResult:
        """Whether the webhook host answers at all (a ``HEAD``, which posts nothing).

        Teams has no harmless test message, so the first card is what proves the workflow.
        """
        kwargs: dict[str, Any] = {}
        if self.config.http.ca_bundle:
            kwargs["verify"] = self.config.http.ca_bundle
        try:
            response = self.http.send("HEAD", self.config.webhook_url.reveal(), **kwargs)
            response.close()
            # Any answer proves the host, except one saying it is failing or throttling.
            if response.status_code >= 500 or response.status_code == 429:
                error = error_for_response(response)
                if error is not None:
                    raise error
        except Exception as exc:  # reported as the check result
            status, _, message = self.classify(exc)
            return CheckResult(ok=False, status=status, message=message)
        return CheckResult(
            ok=True,
            status=Status.OK,
            message="the workflow's host answers; the first card proves the workflow itself",
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()
