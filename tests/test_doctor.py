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
from coprolib.doctor import Finding, Severity, install_command, run_checks
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
    from coprolib_fhir.server import FhirServer

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


def test_adapter_not_installed_gives_the_pip_command(tmp_path: Path) -> None:
    path = write(tmp_path, destination("crm", "crm-imaginary", 'url = "https://x.invalid"'))
    [problem] = problems(run_checks(path))
    assert "is not installed" in problem.message
    assert problem.fix and "pip install coprolib-crm-imaginary" in problem.fix
    assert install_command("govuk-notify") == "pip install coprolib-notify"
    assert install_command("fhir") == "pip install coprolib-fhir"


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
    from coprolib_notify.server import NotifyServer

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
    from coprolib_email.server import Mailbox, self_signed_cert, smtp_server

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
