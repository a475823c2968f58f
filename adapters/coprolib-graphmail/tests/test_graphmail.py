"""coprolib-graphmail against a local Graph sendMail and a local Entra ID on 127.0.0.1."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from coprolib_email.message import message_id
from coprolib_graphmail import GraphMailAdapter
from coprolib_graphmail.adapter import token_roles
from coprolib_graphmail.testing import LocalGraphMail, RolesEntra
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coprolib.adapters import ConfigError, RetractRef, Status, build_adapter
from coprolib.records import Recipient, Share
from coprolib.records.enums import FeedbackChannel, FeedbackKind, ShareKind
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import canonical_shares, make_share

Graph = tuple[LocalGraphMail, FaultServer]

TO = Recipient(name="Sam Example", email="sam.example@example.invalid")
EASY = Recipient(name="Jo Sample", email="jo.sample@example.invalid", easy_read=True)


def production_key(name: str) -> str:
    return "coprolib-" + hashlib.sha256(name.encode()).hexdigest()[:40]


def feedback(share_id: str, recipient: Recipient = TO, **fields: Any) -> Share:
    """An email feedback share to ``recipient``."""
    base = make_share(share_id, kind=ShareKind.FEEDBACK, recipient=recipient, **fields)
    return attrs.evolve(base, channel=FeedbackChannel.EMAIL, feedback_kind=FeedbackKind.SHARED)


class TestGraphMailConformance(AdapterConformance):
    malformed_body_statuses = frozenset({Status.OK})

    @pytest.fixture
    def adapter(
        self,
        graph: Graph,
        settings_for: Callable[..., dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[GraphMailAdapter]:
        self.local = graph[0]
        config = settings_for(graph[1].url)
        monkeypatch.setenv("GRAPH_MAIL_SECRET", config["client_secret"].reveal())
        config["client_secret"] = "$env:GRAPH_MAIL_SECRET"
        made = GraphMailAdapter(config, destination="test")
        yield made
        made.close()

    @pytest.fixture(autouse=True)
    def _settings(self, settings_for: Callable[..., dict[str, Any]], entra: RolesEntra) -> None:
        self._settings_for = settings_for

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.local.keys()

    def http_adapter(self, base_url: str, *, read_timeout: float) -> GraphMailAdapter:
        return GraphMailAdapter(
            self._settings_for(base_url, http={"read_timeout": read_timeout}), destination="test"
        )

    def shares(self) -> list[Share]:
        return [
            feedback(s.id, EASY if i % 2 else TO, title=s.title, body=s.body)
            for i, s in enumerate(canonical_shares(self.destination))
        ]

    def make_share(self, share_id: str, **fields: Any) -> Share:
        return feedback(share_id, **fields)


class TestGraphMailConformanceProductionKeys(TestGraphMailConformance):
    def shares(self) -> list[Share]:
        return [attrs.evolve(s, idempotency_key=production_key(s.id)) for s in super().shares()]

    def make_share(self, share_id: str, **fields: Any) -> Share:
        return attrs.evolve(feedback(share_id, **fields), idempotency_key=production_key(share_id))


@pytest.fixture
def adapter(
    graph: Graph, settings_for: Callable[..., dict[str, Any]]
) -> Iterator[GraphMailAdapter]:
    with GraphMailAdapter(settings_for(graph[1].url), destination="test") as made:
        yield made  # type: ignore[misc]


def test_message_is_mime_from_the_mailbox_with_easy_read(
    graph: Graph, adapter: GraphMailAdapter
) -> None:
    local, _ = graph
    share = attrs.evolve(feedback("m", EASY), idempotency_key=production_key("m"))
    result = adapter.deliver([share])[0]
    assert result.ok, result.message
    [sent] = local.sent
    assert sent.mailbox == "safeguarding.feedback@exampleshire.gov.uk"
    assert sent.to == [EASY.email] and sent.key == share.idempotency_key
    assert sent.message_id == result.remote_id
    msg = email.message_from_bytes(sent.mime, policy=email.policy.default)
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and "font-size: 20px" in html.get_content()


def test_mailbox_outside_the_access_policy_is_auth(
    graph: Graph, settings_for: Callable[..., dict[str, Any]]
) -> None:
    local, server = graph
    with GraphMailAdapter(
        settings_for(server.url, mailbox="director@exampleshire.gov.uk")
    ) as adapter:
        result = adapter.deliver([feedback("x")])[0]
    assert result.status is Status.AUTH
    assert "AppOnly AccessPolicy" in (result.message or "")
    assert "application access policy must include the mailbox" in (result.message or "")
    assert local.sent == []


def test_unknown_mailbox_is_auth(graph: Graph, settings_for: Callable[..., dict[str, Any]]) -> None:
    _, server = graph
    with GraphMailAdapter(
        settings_for(server.url, mailbox="nobody@exampleshire.gov.uk")
    ) as adapter:
        result = adapter.deliver([feedback("x")])[0]
    assert result.status is Status.AUTH and "ErrorInvalidUser" in (result.message or "")


def test_without_mail_send_check_and_send_name_admin_consent(
    graph: Graph, entra: RolesEntra, adapter: GraphMailAdapter
) -> None:
    entra.roles[next(iter(entra.roles))] = ["User.Read.All"]
    checked = adapter.check()
    assert not checked.ok and checked.status is Status.AUTH
    assert "grant admin consent" in checked.message
    result = adapter.deliver([feedback("x")])[0]
    assert result.status is Status.AUTH and "ErrorAccessDenied" in (result.message or "")


def test_check_signs_in_reaches_graph_and_says_how_to_test_the_policy(
    adapter: GraphMailAdapter,
) -> None:
    checked = adapter.check()
    assert checked.ok, checked.message
    assert (
        "Test-ApplicationAccessPolicy -Identity safeguarding.feedback@exampleshire.gov.uk"
        in checked.message
    )


def test_throttled_pauses_the_destination(graph: Graph, adapter: GraphMailAdapter) -> None:
    local, _ = graph
    local.throttle(1, retry_after="9")
    first = adapter.deliver([feedback("t1")])[0]
    assert first.status is Status.THROTTLED and first.retry_after == 9
    assert "ApplicationThrottled" in (first.message or "")
    assert adapter.deliver([feedback("t2")])[0].status is Status.THROTTLED
    assert local.requests["sendMail"] == 0, "nothing is sent while paused"


def test_retract_twice_and_never_delivered_compensate(adapter: GraphMailAdapter) -> None:
    delivered = adapter.deliver([feedback("r")])[0]
    refs = [
        RetractRef(
            share_id="r", idempotency_key=delivered.idempotency_key, remote_id=delivered.remote_id
        ),
        RetractRef(
            share_id="r", idempotency_key=delivered.idempotency_key, remote_id=delivered.remote_id
        ),
        RetractRef(share_id="n", idempotency_key=production_key("never")),
    ]
    results = adapter.retract(refs)
    assert all(r.status is Status.OK and not r.retracted and r.compensating_action for r in results)
    assert results[0].remote_id == delivered.remote_id
    assert "cannot be recalled" in (results[2].compensating_action or "")


def test_faults_during_check_are_classified(
    graph: Graph, settings_for: Callable[..., dict[str, Any]]
) -> None:
    _, server = graph
    with GraphMailAdapter(settings_for(server.url, http={"read_timeout": 0.5})) as adapter:
        server.slow_seconds = 1.0
        for fault in ("reset", "503", "slow"):
            server.force(fault)
            checked = adapter.check()
            assert not checked.ok and checked.status is Status.RETRYABLE, (fault, checked.message)
        assert adapter.check().ok


def test_only_email_feedback_is_sent(adapter: GraphMailAdapter) -> None:
    insight = make_share("i")
    letter = attrs.evolve(feedback("l"), channel=FeedbackChannel.LETTER)
    no_address = feedback("a", Recipient(name="No Email"))
    results = adapter.deliver([insight, letter, no_address])
    assert [r.status for r in results] == [Status.PERMANENT] * 3


def test_token_roles_reads_a_jwt_and_nothing_else() -> None:
    payload = base64.urlsafe_b64encode(json.dumps({"roles": ["Mail.Send"]}).encode()).decode()
    assert token_roles(f"e30.{payload.rstrip('=')}.sig") == ["Mail.Send"]
    assert token_roles("opaque-token") is None
    assert token_roles("a.!!!.c") is None


def test_settings_are_checked(settings_for: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(ConfigError, match="tenant_id"):
        GraphMailAdapter(settings_for("https://graph.microsoft.com", tenant_id="contoso"))
    with pytest.raises(ConfigError, match="mailbox"):
        GraphMailAdapter(settings_for("https://graph.microsoft.com", mailbox="not-an-address"))


def test_registered_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GM_SECRET", "fictional-graph-secret-value")
    made = build_adapter(
        "graph-mail",
        {
            "tenant_id": "3f9d2c1b-7a6e-4d5c-9b8a-1e2f3a4b5c6d",
            "client_id": "6b1e4f0a-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
            "client_secret": "$env:GM_SECRET",
            "mailbox": "safeguarding.feedback@exampleshire.gov.uk",
        },
    )
    assert isinstance(made, GraphMailAdapter)
    assert made.config.scope == "https://graph.microsoft.com/.default"
    assert "fictional-graph-secret-value" not in json.dumps(made.describe())
    assert type(made).capabilities.can_retract is False
    assert type(made).capabilities.can_upsert is False


def test_doctor_reports_sign_in_and_names_admin_consent(
    graph: Graph,
    entra: RolesEntra,
    settings_for: Callable[..., dict[str, Any]],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from coprolib.cli.doctor import Severity, run_checks

    _, server = graph
    settings = settings_for(server.url)
    secret = settings["client_secret"].reveal()
    monkeypatch.setenv("GRAPH_MAIL_SECRET", secret)
    config = tmp_path / "coprolib.toml"
    config.write_text(
        f'ledger = "sqlite:///{tmp_path}/coprolib.db"\n'
        "[destinations.feedback-email]\n"
        'adapter = "graph-mail"\ncarries = "feedback"\nchannels = ["email"]\n'
        "[destinations.feedback-email.settings]\n"
        f'tenant_id = "{settings["tenant_id"]}"\nclient_id = "{settings["client_id"]}"\n'
        f'client_secret = "$env:GRAPH_MAIL_SECRET"\nmailbox = "{settings["mailbox"]}"\n'
        f'graph_url = "{settings["graph_url"]}"\nauthority_host = "{entra.authority_host}"\n'
        f'instance_discovery = false\nhttp = {{ ca_bundle = "{entra.ca_path}" }}\n',
        encoding="utf-8",
    )
    [found] = [f for f in run_checks(config) if f.where == "destinations.feedback-email"]
    assert found.severity is Severity.OK, found.message
    assert "Test-ApplicationAccessPolicy" in found.message
    entra.roles[settings["client_id"]] = []
    [found] = [f for f in run_checks(config) if f.where == "destinations.feedback-email"]
    assert found.problem and "grant admin consent" in found.message
    assert secret not in found.message + (found.fix or "")


def test_exchange_rbac_mode_refuses_a_tenant_wide_mail_send(
    graph: Graph, entra: RolesEntra, settings_for: Callable[..., dict[str, Any]]
) -> None:
    _, server = graph
    with GraphMailAdapter(settings_for(server.url, access_control="exchange-rbac")) as adapter:
        checked = adapter.check()
        assert not checked.ok and checked.status is Status.AUTH
        assert "remove that permission" in checked.message
        entra.roles[next(iter(entra.roles))] = []
        adapter.credentials.token(refresh=True)
        checked = adapter.check()
    assert checked.ok and "Test-ServicePrincipalAuthorization" in checked.message


_KEYS = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc")),
        st.sampled_from(list("/.%?#&+:'\"\\ ^=<>")),
    ),
    min_size=1,
    max_size=255,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=_KEYS)
def test_any_key_is_sent_and_compensated(graph: Graph, adapter: GraphMailAdapter, key: str) -> None:
    local, _ = graph
    share = attrs.evolve(feedback("p"), idempotency_key=key)
    result = adapter.deliver([share])[0]
    assert result.ok, result.message
    assert local.sent[-1].message_id == result.remote_id == message_id(key, "exampleshire.gov.uk")
    assert local.sent[-1].key == key
    retracted = adapter.retract([RetractRef(share_id="p", idempotency_key=key)])[0]
    assert retracted.ok and retracted.compensating_action


def test_a_line_break_in_a_header_cannot_add_a_header(
    graph: Graph, adapter: GraphMailAdapter
) -> None:
    key = "coprolib-key\nBcc: someone@example.invalid"
    results = adapter.deliver(
        [
            attrs.evolve(feedback("k"), idempotency_key=key),
            feedback("t", title="Title\r\nBcc: someone@example.invalid"),
        ]
    )
    assert [r.status for r in results] == [Status.OK, Status.OK]
    first, second = graph[0].sent
    assert first.key == key and first.to == [TO.email], "the key header is encoded, not injected"
    # The title's line break became a space: one Subject line, and no Bcc recipient.
    assert second.subject == "Title Bcc: someone@example.invalid"
    assert second.to == [TO.email]


def test_replies_are_classified_in_graph_terms() -> None:
    from coprolib_graphmail.adapter import classify

    def body(code: str) -> bytes:
        return json.dumps({"error": {"code": code, "message": "m"}}).encode()

    assert classify(403, {}, body("ErrorSendAsDenied"), what="s").status is Status.AUTH
    assert "mailbox setting" in classify(403, {}, body("ErrorSendAsDenied"), what="s").message
    assert classify(404, {}, body("ErrorInvalidUser"), what="s").status is Status.AUTH
    assert classify(400, {}, body("ErrorInvalidRecipients"), what="s").status is Status.PERMANENT
    assert classify(503, {"Retry-After": "4"}, b"", what="s").retry_after == 4
    throttled = classify(429, {}, body("ApplicationThrottled"), what="s")
    assert throttled.status is Status.THROTTLED and throttled.retry_after == 30
