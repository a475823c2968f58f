"""The GOV.UK Notify adapter: feedback to contributors by email, text message or letter through
the official ``notifications-python-client``.

Follows the Python client documentation (https://docs.notifications.service.gov.uk/python.html:
send_email_notification, send_sms_notification, send_letter_notification, get_all_notifications
with ``reference``, get_template, and its error tables) and the REST API documentation
(https://docs.notifications.service.gov.uk/rest-api.html: JWT ``iss``/``iat`` authorisation,
rate and daily limits).

Idempotency. Notify has no idempotent create: the same POST twice sends two messages. Every
send is therefore preceded by ``GET /v2/notifications?reference=<reference>``; when a
notification with that reference exists (sent by an earlier attempt whose reply was lost, or by
an earlier run) its id is returned and nothing is sent. The cost is one extra request per
message, which feedback volumes (tens a day) make negligible. The lookup only sees what Notify
still holds (its data retention period, 7 days unless the service changed it).

The reference. Notify's documentation says a reference "must not contain any personal
information" and Notify refuses one that looks like it (a run of nine or more digits reads as a
phone or account number). About one real key in six (``coprolib-<40 hex>``) holds such a run, so
the reference is :func:`reference_for` the key: the key itself, with ``_`` written after every
eighth character of a run of digits, spaces and hyphens and ``@`` written ``_a`` (``_`` itself is
``__``). It is the same for every attempt at a share, different for different keys, and
:func:`key_for` reads the key back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from coprolib.adapters import (
    Adapter,
    AuthError,
    Capabilities,
    CheckResult,
    DeliveryResult,
    PermanentError,
    RetractRef,
    RetractResult,
    RetryableError,
    Secret,
    Status,
    ThrottledError,
)
from coprolib.adapters.errors import AdapterError, ConfigError
from coprolib.adapters.http import check_endpoint, parse_retry_after
from coprolib.records import Share
from coprolib.records.enums import FeedbackChannel, FeedbackKind, ShareKind

DEFAULT_BASE_URL = "https://api.notifications.service.gov.uk"
CLOCK_MESSAGE = (
    "GOV.UK Notify refused the request because this computer's clock is more than 30 seconds "
    "out: fix the system clock (turn on network time sync, for example "
    "`timedatectl set-ntp true` on Linux or 'Set time automatically' on Windows) and run again"
)
#: The channels Notify sends; other feedback channels are for a person to carry out.
CHANNELS = (FeedbackChannel.EMAIL, FeedbackChannel.SMS, FeedbackChannel.LETTER)
#: The characters of a run that could read as a phone or account number.
_RUN = frozenset("0123456789- \t\n\r\f\v")
#: The longest run of those characters a reference holds.
_RUN_LIMIT = 8
_LONDON = ZoneInfo("Europe/London")


def reference_for(key: str) -> str:
    """The Notify ``reference`` for an idempotency key: never nine digits (or digits, spaces and
    hyphens) in a row and never ``@``, so Notify does not take it for personal data; one
    reference per key (see the module docstring)."""
    out: list[str] = []
    run = 0
    for char in key:
        if char in _RUN:
            if run == _RUN_LIMIT:
                out.append("_")
                run = 0
            run += 1
        else:
            run = 0
        out.append("__" if char == "_" else "_a" if char == "@" else char)
    return "".join(out)


def key_for(reference: str) -> str:
    """The idempotency key a :func:`reference_for` reference was made from."""
    out: list[str] = []
    chars = iter(reference)
    for char in chars:
        if char != "_":
            out.append(char)
            continue
        following = next(chars, "")
        if following == "_":
            out.append("_")
        elif following == "a":
            out.append("@")
        else:  # a break inside a run: drop it, keep the character after it
            out.append(following)
    return "".join(out)


@attrs.frozen(kw_only=True)
class TemplateIds:
    """Notify template ids for one feedback kind, per channel, with optional Easy Read ones."""

    email: str | None = None
    sms: str | None = None
    letter: str | None = None
    email_easy_read: str | None = None
    letter_easy_read: str | None = None

    def pick(self, channel: FeedbackChannel, easy_read: bool) -> str | None:
        """The template for a channel (the Easy Read one when asked for and configured)."""
        if easy_read:
            special = getattr(self, f"{channel}_easy_read", None)
            if special:
                return str(special)
        value = getattr(self, str(channel), None)
        return str(value) if value else None

    def all(self) -> dict[str, str]:
        """Every configured template id by channel name."""
        return {k: v for k, v in attrs.asdict(self).items() if v}


def _kinds(instance: Any, attribute: attrs.Attribute[Any], value: Mapping[str, Any]) -> None:
    known = {str(k) for k in FeedbackKind}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(
            f"templates: unknown feedback kind(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    if not value:
        raise ValueError("templates: give a template id for at least one feedback kind")


@attrs.frozen(kw_only=True)
class NotifyConfig:
    """Settings of a ``govuk-notify`` destination (see the README's configuration reference)."""

    api_key: Secret
    templates: dict[str, TemplateIds] = attrs.field(validator=_kinds)
    base_url: str = DEFAULT_BASE_URL
    email_reply_to_id: str | None = None
    sms_sender_id: str | None = None
    personalisation: dict[str, str] = attrs.field(factory=dict)
    timeout: float = 30.0
    lookup_before_send: bool = True

    def __attrs_post_init__(self) -> None:
        check_endpoint(self.base_url, "base_url")
        if len(self.api_key.reveal()) < 74:
            raise ValueError(
                f"api_key: {self.api_key} is not a GOV.UK Notify API key (copy the whole key "
                "from Notify's API integration page: name, service id and secret)"
            )


@attrs.frozen(kw_only=True)
class Message:
    """What is sent for one share: channel, template, recipient field and personalisation."""

    channel: FeedbackChannel
    template_id: str
    to: str | None
    personalisation: dict[str, str]


def seconds_to_midnight(now: dt.datetime) -> float:
    """Seconds from ``now`` until the next midnight in London, when Notify's daily limits reset."""
    local = now.astimezone(_LONDON)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), _LONDON)
    return max(60.0, (midnight - local).total_seconds())


def address_lines(address: str) -> dict[str, str]:
    """A postal address (lines separated by newlines or commas) as Notify's ``address_line_1``
    to ``address_line_7``; the postcode stays on the last line."""
    parts = [p.strip() for p in re.split(r"[\n,]", address) if p.strip()]
    if len(parts) < 3:
        raise PermanentError(
            "the recipient's postal address has fewer than 3 lines (Notify needs at least 3, "
            "the last being the postcode)"
        )
    if len(parts) > 7:
        parts = [*parts[:5], ", ".join(parts[5:-1]), parts[-1]]
    return {f"address_line_{i}": line for i, line in enumerate(parts, start=1)}


class NotifyAdapter(Adapter[NotifyConfig]):
    """Feedback shares sent as GOV.UK Notify emails, text messages or letters."""

    name = "govuk-notify"
    config_class = NotifyConfig
    capabilities = Capabilities(max_batch_size=25, can_retract=False, can_upsert=False)

    def __init__(
        self,
        config: Any,
        *,
        destination: str | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        super().__init__(config, destination=destination)
        from notifications_python_client import notifications

        # The official client has no type hints: keep it as Any at this boundary.
        client_class: Any = notifications.NotificationsAPIClient
        self._clock = clock
        try:
            self.client: Any = client_class(
                self.config.api_key.reveal(),
                base_url=self.config.base_url,
                timeout=self.config.timeout,
            )
        except AssertionError:
            raise ConfigError(
                f"destinations.{self.destination}.settings.api_key", "not a GOV.UK Notify API key"
            ) from None

    # --- what is sent ---------------------------------------------------------------------

    def message(self, share: Share) -> Message:
        """The channel, template, recipient and personalisation for a feedback share.

        Raises :class:`PermanentError` (naming what is missing, never the person's details)
        when the share cannot be sent by Notify.
        """
        if share.kind is not ShareKind.FEEDBACK:
            raise PermanentError("GOV.UK Notify destinations take feedback shares only")
        channel = share.channel
        if channel not in CHANNELS:
            raise PermanentError(
                f"feedback channel {channel} is not sent by Notify: a person must contact them"
            )
        assert channel is not None
        kind = str(share.feedback_kind or FeedbackKind.SHARED)
        templates = self.config.templates.get(kind)
        recipient = share.recipient
        easy_read = bool(recipient and recipient.easy_read)
        template = templates.pick(channel, easy_read) if templates else None
        if not template:
            raise PermanentError(
                f"no Notify template configured for feedback kind {kind!r} by {channel} "
                f"(set templates.{kind}.{channel} in the destination settings)"
            )
        personalisation = {
            **self.config.personalisation,
            "name": (recipient.name if recipient and recipient.name else "there"),
            "title": share.title,
            "message": share.body,
        }
        to: str | None = None
        if channel is FeedbackChannel.EMAIL:
            to = recipient.email if recipient else None
            if not to:
                raise PermanentError("feedback by email, but the recipient has no email address")
        elif channel is FeedbackChannel.SMS:
            to = recipient.phone if recipient else None
            if not to:
                raise PermanentError("feedback by text, but the recipient has no phone number")
        else:
            if not recipient or not recipient.postal_address:
                raise PermanentError("feedback by letter, but the recipient has no address")
            personalisation.update(address_lines(recipient.postal_address))
        return Message(
            channel=channel, template_id=template, to=to, personalisation=personalisation
        )

    # --- the adapter API ------------------------------------------------------------------

    def deliver_one(self, share: Share) -> DeliveryResult:
        """Look the reference up, then send unless Notify already has it."""
        message = self.message(share)
        reference = reference_for(share.idempotency_key)
        existing = self.lookup(reference) if self.config.lookup_before_send else None
        if existing is not None:
            return self._ok(share, existing, "already sent (found by reference)")
        reply = self._call(lambda: self._send(message, reference))
        notification_id = reply.get("id") if isinstance(reply, dict) else None
        if not notification_id:
            raise RetryableError("GOV.UK Notify accepted the request but sent no notification id")
        return self._ok(share, str(notification_id), None)

    def _send(self, message: Message, reference: str) -> Any:
        if message.channel is FeedbackChannel.EMAIL:
            return self.client.send_email_notification(
                email_address=message.to,
                template_id=message.template_id,
                personalisation=message.personalisation,
                reference=reference,
                email_reply_to_id=self.config.email_reply_to_id,
            )
        if message.channel is FeedbackChannel.SMS:
            return self.client.send_sms_notification(
                phone_number=message.to,
                template_id=message.template_id,
                personalisation=message.personalisation,
                reference=reference,
                sms_sender_id=self.config.sms_sender_id,
            )
        return self.client.send_letter_notification(
            template_id=message.template_id,
            personalisation=message.personalisation,
            reference=reference,
        )

    def lookup(self, reference: str) -> str | None:
        """The id of a notification Notify holds with this reference, or None."""
        reply = self._call(lambda: self.client.get_all_notifications(reference=reference))
        found = reply.get("notifications") if isinstance(reply, dict) else None
        if not isinstance(found, list):
            raise RetryableError("GOV.UK Notify sent an unexpected reply to a lookup")
        for notification in found:
            if isinstance(notification, dict) and notification.get("reference") == reference:
                return str(notification.get("id"))
        return None

    def _ok(self, share: Share, remote: str, message: str | None) -> DeliveryResult:
        return DeliveryResult(
            share_id=share.id,
            idempotency_key=share.idempotency_key,
            status=Status.OK,
            remote_id=remote,
            message=message,
        )

    def retract_one(self, ref: RetractRef) -> RetractResult:
        """Notify cannot recall a message: record what a person should do instead."""
        status = kind = None
        notification_id = ref.remote_id
        try:
            notification_id = self.lookup(reference_for(ref.idempotency_key)) or notification_id
            if notification_id:
                reply = self._call(lambda: self.client.get_notification_by_id(notification_id))
                status = reply.get("status") if isinstance(reply, dict) else None
                kind = reply.get("type") if isinstance(reply, dict) else None
        except AdapterError:
            kind = None
        what = f"notification {notification_id}" if notification_id else "the notification"
        if kind == "letter" and status in ("pending-virus-check", "created", "accepted"):
            action = (
                f"GOV.UK Notify cannot recall {what}, a letter not yet printed (status {status}): "
                "cancel it today in Notify (Dashboard > Letters > the letter > Cancel sending "
                "this letter) before 5.30pm, and record that it was cancelled."
            )
        else:
            action = (
                f"GOV.UK Notify cannot recall {what}"
                + (f" (status {status})" if status else "")
                + ": it has reached the contributor. No further messages will be sent for this "
                "share; if they should be told their consent withdrawal was acted on, send the "
                "withdrawal_confirmed feedback."
            )
        return RetractResult(
            share_id=ref.share_id,
            idempotency_key=ref.idempotency_key,
            remote_id=notification_id,
            status=Status.OK,
            retracted=False,
            compensating_action=action,
        )

    def check(self) -> CheckResult:
        """Fetch every configured template: proves the key, the clock and the template ids."""
        try:
            for kind, templates in self.config.templates.items():
                for channel, template_id in templates.all().items():
                    reply = self._call(partial(self.client.get_template, template_id))
                    wanted = channel.removesuffix("_easy_read")
                    got = reply.get("type") if isinstance(reply, dict) else None
                    if got != wanted:
                        return CheckResult(
                            ok=False,
                            status=Status.PERMANENT,
                            message=(
                                f"templates.{kind}.{channel} ({template_id}) is a {got} template "
                                f"in Notify, not {wanted}"
                            ),
                        )
        except AdapterError as exc:
            message = self.redact(exc.message)
            if isinstance(exc, PermanentError) and "No result found" in message:
                message += " (a template id in the settings does not exist in this Notify service)"
            return CheckResult(ok=False, status=exc.status, message=message)
        return CheckResult(
            ok=True, status=Status.OK, message="API key, clock and templates accepted by Notify"
        )

    # --- errors -----------------------------------------------------------------------------

    def _call(self, action: Callable[[], Any]) -> Any:
        from notifications_python_client.errors import APIError, InvalidResponse

        try:
            return action()
        except InvalidResponse:
            raise RetryableError("GOV.UK Notify sent a reply that is not JSON") from None
        except APIError as exc:
            raise self.error(exc) from None

    def error(self, exc: Any) -> AdapterError:
        """Notify's error (status code and ``errors`` list) as a classified coprolib error."""
        code = int(exc.status_code)
        response = getattr(exc, "response", None)
        errors: list[dict[str, Any]] = []
        try:
            body = response.json() if response is not None else {}
            errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        except (ValueError, AttributeError):
            errors = []
        names = {str(e.get("error")) for e in errors}
        text = "; ".join(str(e.get("message")) for e in errors) or f"HTTP {code}"
        headers = getattr(response, "headers", None) or {}
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if code == 403 and ("system clock" in text or "Invalid token: expired" in text):
            return AuthError(CLOCK_MESSAGE)
        if code == 429:
            if "TooManyRequestsError" in names or "for today" in text:
                wait = seconds_to_midnight(self._clock())
                return ThrottledError(
                    f"GOV.UK Notify daily sending limit reached ({text}); sending resumes after "
                    "midnight, or ask Notify to raise the limit",
                    retry_after=retry_after or wait,
                )
            return ThrottledError(
                f"GOV.UK Notify rate limit ({text})", retry_after=retry_after or 60.0
            )
        if code in (401, 403):
            return AuthError(
                f"GOV.UK Notify refused the API key ({text}): check the key in the environment "
                "variable is a current key of this service"
            )
        if code >= 500 or response is None:
            return RetryableError(f"GOV.UK Notify unavailable ({text})")
        if "team-only API key" in text or "trial mode" in text:
            return PermanentError(
                f"GOV.UK Notify: {text} (use a live key, or add the recipient to the team / "
                "guest list while the service is in trial mode)"
            )
        return PermanentError(f"GOV.UK Notify refused the message (HTTP {code}: {text})")

    def close(self) -> None:
        """Close the client's pooled connections."""
        self.client.request_session.close()
