"""``coprolib doctor`` against real local servers: the FHIR, Notify and SMTP test servers of the
adapter distributions (skipped when those are not installed) and the built-in file destination."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coprolib.cli import build_cli
from coprolib.cli.doctor import Finding, Severity, install_command, run_checks
from coprolib.testing.fault_server import FaultServer, refused_url

SECRET = "fictional-doctor-secret-93a1"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "coprolib.toml"
    path.write_text(f'ledger = "sqlite:///{tmp_path}/ledger.db"\n' + body, encoding="utf-8")
    return path


def destination(name: str, adapter: str, settings: str) -> str:
    return (
        f"[destinations.{name}]\n"
        f'adapter = "{adapter}"\naudience = "internal"\npurposes = ["service_improvement"]\n'
        f"[destinations.{name}.settings]\n{settings}\n"
    )


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.problem]


@pytest.fixture
def fhir_url() -> Iterator[str]:
    pytest.importorskip("coprolib_fhir")
    from coprolib_fhir.testing import FhirServer

    server = FhirServer(token=SECRET, validate=False)
    with FaultServer(server.app) as http:
        yield f"{http.url}/fhir"


def test_no_config_file_is_a_problem(tmp_path: Path) -> None:
    findings = run_checks(tmp_path / "missing.toml")
    assert [f.severity for f in findings] == [Severity.ERROR]
    assert "does not exist" in findings[0].message


def test_config_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bogus_key = 1\n" + destination("d", "file", 'directory = "out"'))
    [finding] = run_checks(path)
    assert finding.problem and "bogus_key" in finding.message
    assert finding.fix and "correct" in finding.fix


def test_good_file_destination_passes_and_cli_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, destination("pack", "file", f'directory = "{tmp_path}/out"'))
    assert problems(run_checks(path)) == []
    result = CliRunner().invoke(build_cli(), ["doctor", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "no problems found" in result.output


def test_missing_env_var_is_named_and_the_value_never_shown(
    tmp_path: Path, fhir_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCTOR_FHIR_TOKEN", raising=False)
    path = write(
        tmp_path,
        destination("scr", "fhir", f'url = "{fhir_url}"\ntoken = "$env:DOCTOR_FHIR_TOKEN"'),
    )
    [problem] = problems(run_checks(path))
    assert "DOCTOR_FHIR_TOKEN is not set" in problem.message
    assert problem.fix and "never write the secret" in problem.fix
    result = CliRunner().invoke(build_cli(), ["doctor", "--config", str(path)])
    assert result.exit_code == 1
    assert "PROBLEM" in result.output and "DOCTOR_FHIR_TOKEN" in result.output


def test_unknown_adapter_suggests_the_nearest_known_one_never_a_made_up_package(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, destination("pack", "files", 'directory = "out"'))
    [problem] = problems(run_checks(path))
    assert "no adapter called 'files'" in problem.message
    assert problem.fix and 'did you mean adapter = "file"' in problem.fix
    assert "pip install" not in problem.fix
    path = write(tmp_path, destination("crm", "crm-imaginary", 'url = "https://x.invalid"'))
    [problem] = problems(run_checks(path))
    assert problem.fix and "pip install" not in problem.fix and "did you mean" not in problem.fix
    assert install_command("crm-imaginary") is None
    assert install_command("govuk-notify") == "pip install coprolib-notify"
    assert install_command("teams-workflow") == "pip install coprolib-sharepoint"
    assert install_command("fhir") == "pip install coprolib-fhir"


def test_settings_are_checked_against_the_schema_while_secrets_are_missing(
    tmp_path: Path,
) -> None:
    pytest.importorskip("coprolib_dataverse")
    old_block = (
        'environment_url = "https://northdale-fictional.crm11.dynamics.com"\n'
        'client_id = "00000000-0000-0000-0000-000000000000"\n'
        'client_secret = "$env:DOCTOR_DATAVERSE_SECRET"'
    )
    path = write(tmp_path, destination("dyn", "dataverse", old_block))
    found = problems(run_checks(path, environ={}, remote=False))
    assert any("DOCTOR_DATAVERSE_SECRET is not set" in f.message for f in found)
    [wrong] = [f for f in found if "settings are not right" in f.message]
    assert "environment_url" in wrong.message and "settings.url" in wrong.message


def test_a_missing_secret_is_reported_once_not_as_a_bad_setting(tmp_path: Path) -> None:
    pytest.importorskip("coprolib_sharepoint")
    path = write(tmp_path, destination("teams", "teams-workflow", 'webhook_url = "$env:DOC_TEAMS"'))
    [problem] = problems(run_checks(path, environ={}, remote=False))
    assert "DOC_TEAMS is not set" in problem.message


def test_unreachable_postgres_ledger_exits_1(tmp_path: Path) -> None:
    host_port = refused_url().removeprefix("http://")
    path = tmp_path / "coprolib.toml"
    path.write_text(f'ledger = "postgresql://postgres@{host_port}/test"\n', encoding="utf-8")
    result = CliRunner().invoke(build_cli(), ["doctor", "--offline", "--config", str(path)])
    assert result.exit_code == 1, result.output
    assert "cannot connect to the ledger" in result.output


def test_the_ledger_named_by_the_environment_is_the_one_checked(tmp_path: Path) -> None:
    host_port = refused_url().removeprefix("http://")
    path = write(tmp_path, "")
    env = {"COPROLIB_LEDGER": f"postgresql://postgres@{host_port}/test"}
    [problem] = problems(run_checks(path, environ=env, remote=False))
    assert problem.where == "$COPROLIB_LEDGER" and "cannot connect" in problem.message


def test_postgres_ledger_without_psycopg_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)
    path = tmp_path / "coprolib.toml"
    path.write_text('ledger = "postgresql://postgres@127.0.0.1:5432/test"\n', encoding="utf-8")
    [problem] = problems(run_checks(path, remote=False))
    assert "needs psycopg" in problem.message
    assert problem.fix and "coprolib[postgres]" in problem.fix


def ledger_findings(path: Path, key: str | None) -> list[Finding]:
    env = {} if key is None else {"COPROLIB_KEY": key}
    return [f for f in run_checks(path, environ=env, remote=False) if "ledger" in f.where]


def test_ledger_encryption_and_key(tmp_path: Path) -> None:
    from coprolib.ledger import generate_key, open_ledger

    key, other = generate_key(), generate_key()
    path = write(tmp_path, "")
    assert any("does not exist yet" in f.message for f in ledger_findings(path, None))
    assert not (tmp_path / "ledger.db").exists(), "the doctor never creates a ledger"
    open_ledger(f"sqlite:///{tmp_path}/ledger.db", key=key).close()

    found = ledger_findings(path, key)
    assert problems(found) == []
    assert any("schema version" in f.message for f in found)
    assert any(f.message.startswith("encrypted (key id") for f in found)
    [missing] = problems(ledger_findings(path, None))
    assert "COPROLIB_KEY is not set" in missing.message
    [wrong] = problems(ledger_findings(path, other))
    assert "encrypted with key id" in wrong.message
    assert key not in wrong.message + (wrong.fix or "")
    [garbled] = problems(ledger_findings(path, "not-a-coprolib-key"))
    assert "not a coprolib key" in garbled.message and "--generate" in (garbled.fix or "")


def test_plain_ledger_is_a_warning_and_a_newer_schema_a_problem(tmp_path: Path) -> None:
    import sqlite3

    from coprolib.ledger import open_ledger

    open_ledger(f"sqlite:///{tmp_path}/ledger.db", key=None).close()
    path = write(tmp_path, "")
    found = ledger_findings(path, None)
    assert problems(found) == []
    assert any(f.severity is Severity.WARNING and "not encrypted" in f.message for f in found)
    conn = sqlite3.connect(tmp_path / "ledger.db")
    conn.execute("UPDATE coprolib_meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    [newer] = problems(ledger_findings(path, None))
    assert "999 is newer" in newer.message


REPO = Path(__file__).resolve().parents[1]
#: Configs in the docs that are not meant to run as written, and why.
NOT_RUNNABLE = {
    ("docs/adapter_tutorial.md", 1): "uses the adapter the reader writes in the tutorial",
}


def example_configs() -> list[tuple[str, int, str]]:
    """Every example coprolib.toml in the repo: the examples folder, and each TOML block in the
    docs and adapter READMEs that configures a destination."""
    import re

    found = [(str(p.relative_to(REPO)), 0, p.read_text()) for p in REPO.glob("examples/*.toml")]
    pages = [REPO / "README.md", *sorted(REPO.glob("docs/*.md"))]
    pages += sorted(REPO.glob("adapters/*/README.md"))
    for page in pages:
        blocks = re.findall(r"```toml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
        for i, body in enumerate(blocks):
            name = str(page.relative_to(REPO))
            if "adapter =" in body and (name, i) not in NOT_RUNNABLE:
                found.append((name, i, body))
    return found


def production_shaped(name: str) -> str:
    """A fictional secret shaped like the real one the variable holds."""
    import base64
    import uuid

    if "NOTIFY" in name:
        return f"coprolib_live-{uuid.uuid4()}-{uuid.uuid4()}"
    if "TEAMS" in name or "WEBHOOK_URL" in name:
        return "https://prod-12.uksouth.logic.azure.com/workflows/0a1b2c/triggers/manual/paths/invoke?sig=fictional"
    if "WEBHOOK" in name or "TRAINING_KEY" in name:
        return "whsec_" + base64.b64encode(b"fictional-signing-key-32-bytes!!").decode()
    return "fictional-" + uuid.uuid4().hex


@pytest.mark.parametrize("source", example_configs(), ids=lambda s: f"{s[0]}#{s[1]}")
def test_every_example_config_passes_doctor_offline(
    source: tuple[str, int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    name, _, body = source
    path = REPO / name if name.endswith(".toml") else tmp_path / "coprolib.toml"
    if path != REPO / name:
        path.write_text(body, encoding="utf-8")
    for ref in set(re.findall(r"\$env:([A-Za-z_][A-Za-z0-9_]*)", body)):
        monkeypatch.setenv(ref, production_shaped(ref))
    monkeypatch.delenv("COPROLIB_KEY", raising=False)
    result = CliRunner().invoke(build_cli(), ["doctor", "--offline", "--config", str(path)])
    assert result.exit_code == 0, result.output


def test_reachable_server_with_good_credentials_passes(
    tmp_path: Path, fhir_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTOR_FHIR_TOKEN", SECRET)
    path = write(
        tmp_path,
        destination("scr", "fhir", f'url = "{fhir_url}"\ntoken = "$env:DOCTOR_FHIR_TOKEN"'),
    )
    findings = run_checks(path)
    assert problems(findings) == []
    assert any("credentials accepted" in f.message for f in findings)


def test_bad_credentials_say_which_secret_to_check(
    tmp_path: Path, fhir_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCTOR_FHIR_TOKEN", "an-old-revoked-token")
    path = write(
        tmp_path,
        destination("scr", "fhir", f'url = "{fhir_url}"\ntoken = "$env:DOCTOR_FHIR_TOKEN"'),
    )
    [problem] = problems(run_checks(path))
    assert "refused the credentials" in problem.message
    assert problem.fix and "$DOCTOR_FHIR_TOKEN" in problem.fix
    assert "an-old-revoked-token" not in problem.message + problem.fix


def test_unreachable_host_names_it(tmp_path: Path) -> None:
    pytest.importorskip("coprolib_fhir")
    url = refused_url()
    path = write(tmp_path, destination("scr", "fhir", f'url = "{url}/fhir"'))
    [problem] = problems(run_checks(path))
    assert problem.message.startswith(f"cannot reach {url.removeprefix('http://')}")
    assert problem.fix and "firewall" in problem.fix
    assert problems(run_checks(path, remote=False)) == [], "--offline does not connect"


def test_bad_setting_is_named(tmp_path: Path) -> None:
    pytest.importorskip("coprolib_fhir")
    path = write(tmp_path, destination("scr", "fhir", 'url = "https://x.invalid"\nwrite = "merge"'))
    [problem] = problems(run_checks(path))
    assert "settings are not right" in problem.message and "write" in problem.message


def test_notify_clock_out_by_a_minute_says_fix_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("coprolib_notify")
    from coprolib_notify.testing import NotifyServer

    notify = NotifyServer(clock=lambda: time.time() - 60)
    template = notify.add_template("email", "Dear ((name)), ((message))", subject="((title))")
    monkeypatch.setenv("DOCTOR_NOTIFY_KEY", notify.api_key)
    with FaultServer(notify.app) as http:
        path = write(
            tmp_path,
            destination(
                "notify",
                "govuk-notify",
                f'api_key = "$env:DOCTOR_NOTIFY_KEY"\nbase_url = "{http.url}"\n'
                f'templates = {{ shared = {{ email = "{template}" }} }}',
            ),
        )
        [problem] = problems(run_checks(path))
        assert "fix the system clock" in problem.message
        notify.clock = time.time
        assert problems(run_checks(path)) == []


def test_smtp_untrusted_certificate_advises_ca_file(tmp_path: Path) -> None:
    pytest.importorskip("coprolib_email")
    pytest.importorskip("aiosmtpd")
    from coprolib_email.testing import Mailbox, self_signed_cert, smtp_server

    cert = self_signed_cert(tmp_path)
    with smtp_server(Mailbox(), security="tls", cert=cert) as port:
        settings = (
            f'host = "127.0.0.1"\nport = {port}\nsecurity = "tls"\n'
            'from_address = "feedback@sab.example.invalid"\ntimeout = 5.0'
        )
        path = write(tmp_path, destination("mail", "email", settings))
        [problem] = problems(run_checks(path))
        assert "not trusted" in problem.message and "ca_file" in problem.message
        path = write(tmp_path, destination("mail", "email", settings + f'\nca_file = "{cert[0]}"'))
        assert problems(run_checks(path)) == []


def test_json_output(tmp_path: Path) -> None:
    import json

    path = write(tmp_path, destination("crm", "crm-imaginary", 'url = "https://x.invalid"'))
    result = CliRunner().invoke(build_cli(), ["doctor", "--config", str(path), "--json"])
    assert result.exit_code == 1
    data: list[dict[str, Any]] = json.loads(result.output)
    assert {"severity", "where", "message", "fix"} <= set(data[0])
    assert any(d["severity"] == "error" and d["where"] == "destinations.crm" for d in data)
