"""coprolib-civicrm against a local CiviCRM APIv4 stand-in (see ``civicrm_standin``)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from civicrm_standin import MATCH_FIELD, LocalCiviCRM
from coprolib_civicrm import CiviCRMAdapter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coprolib.adapters import ConfigError, RetractRef, Secret, Status, build_adapter
from coprolib.cli.doctor import Severity, run_checks
from coprolib.records import Share
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer, refused_url
from coprolib.testing.shares import canonical_shares, make_share

CONTACT_ID = 20417
PERMISSIONS = {
    "access CiviCRM",
    "access AJAX API",
    "authenticate with api key",
    "delete activities",
}


def production_key(share_id: str) -> str:
    """A key shaped like the planner's: ``coprolib-<40 hex>``."""
    return "coprolib-" + hashlib.sha256(share_id.encode()).hexdigest()[:40]


def _keyed(share: Share) -> Share:
    return attrs.evolve(share, idempotency_key=production_key(share.id))


def _settings(url: str, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": f"{url}/civicrm/ajax/api4",
        "api_key": Secret(key, "$env:CIVICRM_API_KEY"),
        **extra,
    }


def _ref(result: Any) -> RetractRef:
    return RetractRef(
        share_id=result.share_id, idempotency_key=result.idempotency_key, remote_id=result.remote_id
    )


@pytest.fixture
def key(civicrm: LocalCiviCRM) -> str:
    return civicrm.add_contact(CONTACT_ID, PERMISSIONS)


@pytest.fixture
def adapter(civicrm_server: FaultServer, key: str) -> Iterator[CiviCRMAdapter]:
    with CiviCRMAdapter(_settings(civicrm_server.url, key), destination="test") as made:
        yield made


class TestCiviCRMConformance(AdapterConformance):
    """The kit, with the planner's production-shaped keys."""

    @pytest.fixture
    def adapter(
        self, civicrm: LocalCiviCRM, civicrm_server: FaultServer, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[CiviCRMAdapter]:
        self.civicrm = civicrm
        monkeypatch.setenv("CIVICRM_API_KEY", civicrm.add_contact(CONTACT_ID, PERMISSIONS))
        made = CiviCRMAdapter(
            {"url": f"{civicrm_server.url}/civicrm/ajax/api4", "api_key": "$env:CIVICRM_API_KEY"},
            destination="test",
        )
        yield made
        made.close()

    def shares(self) -> list[Share]:
        return [_keyed(s) for s in super().shares()]

    def make_share(self, share_id: str, **fields: Any) -> Share:
        return _keyed(super().make_share(share_id, **fields))

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.civicrm.external_ids()

    def http_adapter(self, base_url: str, *, read_timeout: float) -> CiviCRMAdapter:
        return CiviCRMAdapter(
            _settings(base_url, "x" * 43, http={"read_timeout": read_timeout}),
            destination="test",
        )


# --- what CiviCRM holds ---------------------------------------------------------------------


def test_activity_record_as_the_readme_says(adapter: CiviCRMAdapter, civicrm: LocalCiviCRM) -> None:
    share = _keyed(canonical_shares()[5])  # quotes, <angle> & ampersand, CRLF
    result = adapter.deliver([share])[0]
    assert result.ok, result.message
    record = civicrm.records[int(result.remote_id or 0)]
    assert record["activity_type_id"] == 57  # "Lived experience insight"
    assert record["status_id"] == 2  # Completed
    assert record["source_contact_id"] == CONTACT_ID  # the API key's own contact
    assert record[MATCH_FIELD] == share.idempotency_key
    assert record["subject"] == share.title
    assert record["details"].endswith("<br />Second line,with,commas<br />and a CRLF.</p>")


def test_details_are_escaped_into_paragraphs(
    adapter: CiviCRMAdapter, civicrm: LocalCiviCRM
) -> None:
    share = _keyed(make_share("html", body="<script>alert(1)</script> & co\n\nSecond paragraph"))
    result = adapter.deliver([share])[0]
    assert civicrm.records[int(result.remote_id or 0)]["details"] == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</p><p>Second paragraph</p>"
    )


def test_long_title_is_cut_to_the_subject_column(
    adapter: CiviCRMAdapter, civicrm: LocalCiviCRM
) -> None:
    share = _keyed(make_share("long-title", title="Waiting " * 60))
    result = adapter.deliver([share])[0]
    assert result.ok, result.message
    subject = civicrm.records[int(result.remote_id or 0)]["subject"]
    assert len(subject) == 255 and subject.endswith("…")


def test_the_standin_refuses_a_subject_over_255(civicrm_server: FaultServer, key: str) -> None:
    settings_ = _settings(civicrm_server.url, key, max_lengths={})
    with CiviCRMAdapter(settings_, destination="test") as adapter:
        result = adapter.deliver([_keyed(make_share("too-long", title="x" * 256))])[0]
    # Without "view debug output" CiviCRM hides the reason: a retry is the safe guess.
    assert result.status is Status.RETRYABLE
    assert "Error ID" in (result.message or "")


def test_one_save_call_per_batch(adapter: CiviCRMAdapter, civicrm: LocalCiviCRM) -> None:
    shares = [_keyed(make_share(f"b{i}")) for i in range(60)]
    results = adapter.deliver(shares)
    assert [r.share_id for r in results] == [s.id for s in shares]
    assert all(r.ok for r in results)
    saves = [c for c in civicrm.calls if c[1] == "save"]
    assert [len(c[2]["records"]) for c in saves] == [25, 25, 10]
    assert all(c[2]["match"] == [MATCH_FIELD] for c in saves)
    assert len({r.remote_id for r in results}) == 60


# --- retraction -------------------------------------------------------------------------------


def test_retract_twice_and_never_delivered(adapter: CiviCRMAdapter, civicrm: LocalCiviCRM) -> None:
    share = _keyed(make_share("twice"))
    delivered = adapter.deliver([share])[0]
    first = adapter.retract([_ref(delivered)])[0]
    second = adapter.retract([_ref(delivered)])[0]
    never = adapter.retract(
        [RetractRef(share_id="never", idempotency_key=production_key("never"))]
    )[0]
    assert (first.status, first.retracted, first.message) == (Status.OK, True, None)
    assert (second.status, second.retracted) == (Status.OK, True)
    assert "already deleted" in (second.message or "")
    assert never.ok and never.retracted
    assert civicrm.external_ids() == []
    deletes = [c[2] for c in civicrm.calls if c[1] == "delete"]
    assert deletes[0] == {"where": [[MATCH_FIELD, "IN", [share.idempotency_key]]]}


def test_retract_needs_delete_activities(
    civicrm: LocalCiviCRM, civicrm_server: FaultServer
) -> None:
    key = civicrm.add_contact(20418, PERMISSIONS - {"delete activities"})
    with CiviCRMAdapter(_settings(civicrm_server.url, key), destination="test") as adapter:
        delivered = adapter.deliver([_keyed(make_share("kept"))])[0]
        result = adapter.retract([_ref(delivered)])[0]
        checked = adapter.check()
    assert result.status is Status.AUTH
    assert not checked.ok and "delete activities" in checked.message
    assert civicrm.external_ids() == [delivered.idempotency_key]


@pytest.mark.parametrize("fault", ["500", "503", "reset", "429"])
def test_faults_during_retract_and_check(
    civicrm: LocalCiviCRM, civicrm_server: FaultServer, key: str, fault: str
) -> None:
    civicrm_server.retry_after = "5"
    with CiviCRMAdapter(_settings(civicrm_server.url, key), destination="test") as adapter:
        delivered = adapter.deliver([_keyed(make_share("f"))])[0]
        civicrm_server.force(fault)
        failed = adapter.retract([_ref(delivered)])[0]
        civicrm_server.force(fault)
        checked = adapter.check()
        again = adapter.retract([_ref(delivered)])[0]
    expected = Status.THROTTLED if fault == "429" else Status.RETRYABLE
    assert failed.status is expected and not failed.retracted
    assert not checked.ok and checked.status is expected
    assert again.ok and civicrm.external_ids() == []
    assert key not in (failed.message or "") + checked.message


# --- keys --------------------------------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key_text=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=120,
    )
)
def test_any_key_round_trips(adapter: CiviCRMAdapter, civicrm: LocalCiviCRM, key_text: str) -> None:
    share = attrs.evolve(make_share("h"), idempotency_key=key_text)
    first = adapter.deliver([share])[0]
    second = adapter.deliver([share])[0]
    assert first.ok and second.ok and first.remote_id == second.remote_id
    assert Counter(civicrm.external_ids())[key_text] == 1
    assert adapter.retract([_ref(first)])[0].retracted
    assert key_text not in civicrm.external_ids()


def test_keys_differing_only_in_case_are_one_record_in_civicrm(
    adapter: CiviCRMAdapter, civicrm: LocalCiviCRM
) -> None:
    # MySQL's default collation ignores case: coprolib's lowercase-hex keys never meet this.
    upper = attrs.evolve(make_share("u"), idempotency_key="COPROLIB-ABC")
    lower = attrs.evolve(make_share("l"), idempotency_key="coprolib-abc")
    first, second = adapter.deliver([upper]) + adapter.deliver([lower])
    assert first.remote_id == second.remote_id
    assert civicrm.external_ids() == ["coprolib-abc"]


def test_a_key_longer_than_the_field_is_refused_alone(
    adapter: CiviCRMAdapter, civicrm: LocalCiviCRM
) -> None:
    long_key = attrs.evolve(make_share("long"), idempotency_key="coprolib-" + "a" * 250)
    fine = _keyed(make_share("fine"))
    results = adapter.deliver([long_key, fine])
    assert [r.status for r in results] == [Status.PERMANENT, Status.OK]
    assert "255 characters" in (results[0].message or "")
    assert civicrm.external_ids() == [fine.idempotency_key]


# --- refusals ------------------------------------------------------------------------------------


def test_wrong_api_key_is_auth(civicrm_server: FaultServer, key: str) -> None:
    with CiviCRMAdapter(_settings(civicrm_server.url, key[::-1]), destination="t") as adapter:
        result = adapter.deliver([_keyed(make_share("a"))])[0]
        checked = adapter.check()
    assert result.status is Status.AUTH
    assert "Invalid credential" in (result.message or "")
    assert not checked.ok and checked.status is Status.AUTH
    assert key[::-1] not in (result.message or "") + checked.message


def test_guard_needs_the_permission_or_the_site_key(
    civicrm: LocalCiviCRM, civicrm_server: FaultServer
) -> None:
    key = civicrm.add_contact(20419, PERMISSIONS - {"authenticate with api key"})
    with CiviCRMAdapter(_settings(civicrm_server.url, key), destination="t") as adapter:
        refused = adapter.check()
    site_key = Secret(civicrm.site_key, "$env:CIVICRM_SITE_KEY")
    with CiviCRMAdapter(
        _settings(civicrm_server.url, key, site_key=site_key), destination="t"
    ) as adapter:
        accepted = adapter.check()
    assert refused.status is Status.AUTH and "Must satisfy guard" in refused.message
    assert accepted.ok, accepted.message


def test_missing_ajax_permission_is_auth(
    civicrm: LocalCiviCRM, civicrm_server: FaultServer
) -> None:
    key = civicrm.add_contact(20420, {"authenticate with api key"})
    with CiviCRMAdapter(_settings(civicrm_server.url, key), destination="t") as adapter:
        result = adapter.deliver([_keyed(make_share("a"))])[0]
    assert result.status is Status.AUTH and "access AJAX API" in (result.message or "")


def test_maintenance_mode_is_retryable(civicrm: LocalCiviCRM, adapter: CiviCRMAdapter) -> None:
    civicrm.maintenance = True
    result = adapter.deliver([_keyed(make_share("m"))])[0]
    assert result.status is Status.RETRYABLE and "maintenance" in (result.message or "")


def test_missing_mandatory_value_is_permanent_when_civicrm_says_so(
    civicrm: LocalCiviCRM, civicrm_server: FaultServer
) -> None:
    key = civicrm.add_contact(20421, PERMISSIONS | {"view debug output"})
    settings_ = _settings(civicrm_server.url, key, values={"status_id:name": "Completed"})
    with CiviCRMAdapter(settings_, destination="t") as adapter:
        result = adapter.deliver([_keyed(make_share("no-type"))])[0]
    assert result.status is Status.PERMANENT
    assert "activity_type_id" in (result.message or "")


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_entity_is_permanent_only_when_civicrm_says_why(
    civicrm: LocalCiviCRM, civicrm_server: FaultServer, debug: bool
) -> None:
    perms = PERMISSIONS | ({"view debug output"} if debug else set())
    key = civicrm.add_contact(20422, perms)
    settings_ = _settings(civicrm_server.url, key, entity="Eck_Insight", fields={"title": "title"})
    with CiviCRMAdapter(settings_, destination="t") as adapter:
        result = adapter.deliver([_keyed(make_share("eck"))])[0]
    assert result.status is (Status.PERMANENT if debug else Status.RETRYABLE)
    assert ("does not exist" in (result.message or "")) is debug


def test_connection_refused_is_retryable() -> None:
    with CiviCRMAdapter(
        {"url": f"{refused_url()}/civicrm/ajax/api4", "api_key": Secret("k" * 43)}
    ) as adapter:
        result = adapter.retract([RetractRef(share_id="s", idempotency_key="coprolib-0")])[0]
    assert result.status is Status.RETRYABLE


# --- settings ------------------------------------------------------------------------------------


def test_registered_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICRM_API_KEY", "T0PS3CR3T6ateeUXgTOJ9e3PpXvDZF9Al55WAmBsNQI")
    made = build_adapter(
        "civicrm",
        {"url": "https://crm.example.org.uk/civicrm/ajax/api4", "api_key": "$env:CIVICRM_API_KEY"},
        destination="partner-crm",
    )
    assert isinstance(made, CiviCRMAdapter)
    assert "T0PS3CR3T6" not in json.dumps(made.describe())


@pytest.mark.parametrize(
    ("settings_", "named"),
    [
        ({"entity": "Case"}, "fields"),
        ({"entity": "activity"}, "entity"),
        ({"match_field": "External ID"}, "match_field"),
        ({"fields": {"tittle": "subject"}}, "columns.tittle"),
        ({"url": "http://crm.example.org.uk/civicrm/ajax/api4"}, "url"),
    ],
)
def test_bad_settings_name_the_field(settings_: dict[str, Any], named: str) -> None:
    base = {"url": "https://crm.example.org.uk/civicrm/ajax/api4", "api_key": Secret("k" * 43)}
    with pytest.raises(ConfigError) as caught:
        CiviCRMAdapter({**base, **settings_}, destination="partner-crm")
    assert named in str(caught.value)


# --- coprolib doctor -----------------------------------------------------------------------------


def _doctor(tmp_path: Path, url: str, key: str) -> list[Any]:
    config = tmp_path / "coprolib.toml"
    config.write_text(
        f'ledger = "sqlite:///{tmp_path}/ledger.db"\n'
        "[destinations.partner-crm]\n"
        'adapter = "civicrm"\naudience = "partners"\npurposes = ["service_improvement"]\n'
        "[destinations.partner-crm.settings]\n"
        f'url = "{url}/civicrm/ajax/api4"\napi_key = "$env:CIVICRM_API_KEY"\n',
        encoding="utf-8",
    )
    findings = run_checks(str(config), environ={"CIVICRM_API_KEY": key})
    return [f for f in findings if f.where == "destinations.partner-crm"]


def test_doctor_passes_on_a_set_up_site(
    tmp_path: Path,
    civicrm: LocalCiviCRM,
    civicrm_server: FaultServer,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CIVICRM_API_KEY", key)
    civicrm.records[48000] = {"id": 48000, MATCH_FIELD: "coprolib-" + "0" * 40}
    (finding,) = _doctor(tmp_path, civicrm_server.url, key)
    assert finding.severity is Severity.OK, finding.message
    assert "Coprolib.External_ID" in finding.message
    assert [c[1] for c in civicrm.calls] == ["getFields", "checkAccess", "delete"]
    assert list(civicrm.records) == [48000]  # the delete probe matched nothing


@pytest.mark.parametrize("missing", ["custom field", "activity type"])
def test_doctor_names_what_to_create(
    tmp_path: Path,
    civicrm: LocalCiviCRM,
    civicrm_server: FaultServer,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
    missing: str,
) -> None:
    monkeypatch.setenv("CIVICRM_API_KEY", key)
    if missing == "custom field":
        civicrm.custom_field = False
    else:
        del civicrm.activity_types[57]
    (finding,) = _doctor(tmp_path, civicrm_server.url, key)
    assert finding.severity is Severity.ERROR
    expected = "Custom Fields" if missing == "custom field" else "Activity Types"
    assert expected in finding.message
    assert [c[1] for c in civicrm.calls] == ["getFields"]  # nothing written


def test_doctor_reports_a_refused_key(
    tmp_path: Path, civicrm_server: FaultServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICRM_API_KEY", key[:-1])
    (finding,) = _doctor(tmp_path, civicrm_server.url, key[:-1])
    assert finding.severity is Severity.ERROR
    assert "refused the credentials" in finding.message
    assert key[:-1] not in finding.message + (finding.fix or "")


def test_readme_settings_build_the_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in readme.split("```toml\n")[1:]]
    settings_ = tomllib.loads(blocks[0])["destinations"]["partner-crm"]["settings"]
    monkeypatch.setenv("PARTNER_CIVICRM_API_KEY", "T0PS3CR3T6ateeUXgTOJ9e3PpXvDZF9Al55WAmBsNQI")
    made = CiviCRMAdapter(settings_, destination="partner-crm")
    assert made.config.entity == "Activity" and made.fields == {
        "title": "subject",
        "body": "details",
    }
    other = CiviCRMAdapter({**settings_, **tomllib.loads(blocks[1])}, destination="partner-crm")
    assert other.config.entity == "Eck_Insight" and other.values == {
        "subtype:name": "Lived_experience"
    }
