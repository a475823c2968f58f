"""``coprolib doctor``: check the configuration and every destination, and say what is wrong in
words a council IT officer can act on.

:func:`run_checks` reads ``coprolib.toml``, then for each destination: are the environment
variables its secrets name set, is its adapter installed (else the ``pip install`` command), do
its settings make sense to the adapter, and does the adapter's own ``check()`` reach the system
and get the credentials accepted. Each result is a :class:`Finding` with a plain-words
``message`` and, for problems, a ``fix``. Nothing is ever sent and no secret is ever shown.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from coprolib.config import Config, ConfigError, Destination, find_config, load_config

#: The distribution that provides each adapter name, for the ``pip install`` advice.
ADAPTER_PACKAGES: Mapping[str, str] = {
    "webhook": "coprolib-webhook",
    "fhir": "coprolib-fhir",
    "govuk-notify": "coprolib-notify",
    "email": "coprolib-email",
    "dataverse": "coprolib-dataverse",
    "sharepoint": "coprolib-sharepoint",
    "sharepoint-list": "coprolib-sharepoint",
    "teams": "coprolib-teams",
    "salesforce": "coprolib-salesforce",
    "servicenow": "coprolib-servicenow",
    "graph-mail": "coprolib-graphmail",
}

_HOST_KEYS = (
    "url",
    "base_url",
    "environment_url",
    "instance_url",
    "site_url",
    "webhook_url",
    "graph_url",
    "host",
)


class Severity(enum.StrEnum):
    """How much a finding matters: ``error`` makes ``coprolib doctor`` exit 1."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@attrs.frozen(kw_only=True)
class Finding:
    """One thing the doctor found: where, what, and what to do about it."""

    severity: Severity
    where: str
    message: str
    fix: str | None = None

    @property
    def problem(self) -> bool:
        """Whether this finding makes the check fail."""
        return self.severity is Severity.ERROR


def run_checks(
    config: Config | str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    remote: bool = True,
) -> list[Finding]:
    """Check a configuration (a loaded :class:`~coprolib.config.Config`, or the path of
    ``coprolib.toml``; None finds it as ``coprolib`` does) and every destination in it.

    ``remote=False`` skips each adapter's ``check()`` (no network). The environment defaults to
    ``os.environ``.
    """
    env = os.environ if environ is None else environ
    findings: list[Finding] = []
    loaded = _load(config, findings)
    if loaded is None:
        return findings
    where = loaded.path or "coprolib.toml"
    findings.append(Finding(severity=Severity.OK, where=where, message="configuration is valid"))
    findings.extend(_ledger(loaded))
    if not loaded.destinations:
        findings.append(
            Finding(
                severity=Severity.WARNING,
                where=where,
                message="no destinations are configured, so nothing will be shared",
                fix="add a [destinations.<name>] section (see examples/coprolib.toml)",
            )
        )
    for destination in loaded.destinations.values():
        findings.extend(check_destination(destination, environ=env, remote=remote))
    return findings


def _load(config: Config | str | os.PathLike[str] | None, findings: list[Finding]) -> Config | None:
    if isinstance(config, Config):
        return config
    found = find_config(config)
    if found is None:
        findings.append(
            Finding(
                severity=Severity.ERROR,
                where="coprolib.toml",
                message="no configuration file was found",
                fix=(
                    "create coprolib.toml in the working folder (examples/coprolib.toml is a "
                    "starting point), or set COPROLIB_CONFIG to its full path"
                ),
            )
        )
        return None
    if not Path(found).exists():
        findings.append(
            Finding(
                severity=Severity.ERROR,
                where=str(found),
                message="the configuration file does not exist",
                fix="check the path given (or COPROLIB_CONFIG) is right",
            )
        )
        return None
    try:
        return load_config(found)
    except ConfigError as exc:
        findings.append(
            Finding(
                severity=Severity.ERROR,
                where=exc.path or str(found),
                message=str(exc),
                fix=f"correct {exc.key}" + (f" on line {exc.line}" if exc.line else ""),
            )
        )
        return None


def _ledger(config: Config) -> list[Finding]:
    where = f"{config.path or 'coprolib.toml'}: ledger"
    if not config.ledger:
        return [
            Finding(
                severity=Severity.WARNING,
                where=where,
                message="no ledger is set, so nothing records what was shared",
                fix='add ledger = "sqlite:///coprolib.db" (or a postgresql:// URL)',
            )
        ]
    if config.ledger.startswith("sqlite:///"):
        file = Path(config.ledger[len("sqlite:///") :])
        if config.path and not file.is_absolute():
            file = Path(config.path).parent / file
        folder = file.parent
        if not folder.is_dir():
            return [
                Finding(
                    severity=Severity.ERROR,
                    where=where,
                    message=f"the folder for the ledger file does not exist: {folder}",
                    fix="create the folder, or point ledger at a folder that exists",
                )
            ]
        if not os.access(folder, os.W_OK):
            return [
                Finding(
                    severity=Severity.ERROR,
                    where=where,
                    message=f"the account running coprolib cannot write to {folder}",
                    fix="give that account write permission on the folder",
                )
            ]
    return []


def install_command(adapter: str) -> str:
    """The ``pip install`` command for the distribution providing ``adapter``."""
    return f"pip install {ADAPTER_PACKAGES.get(adapter, f'coprolib-{adapter}')}"


def _target(destination: Destination) -> str:
    for key in _HOST_KEYS:
        value = destination.settings.get(key)
        if isinstance(value, str) and value:
            parts = urlsplit(value)
            return parts.netloc or value
    return "the remote system"


def check_destination(
    destination: Destination, *, environ: Mapping[str, str], remote: bool = True
) -> list[Finding]:
    """The findings for one destination: secrets, adapter, settings, then ``check()``."""
    from coprolib.adapters import ConfigError as AdapterConfigError
    from coprolib.adapters import Status
    from coprolib.plugin_host import get_adapters, load_errors

    where = f"destinations.{destination.name}"
    findings: list[Finding] = []
    missing = [name for name in destination.secret_refs() if not environ.get(name)]
    for name in missing:
        findings.append(
            Finding(
                severity=Severity.ERROR,
                where=where,
                message=f"the environment variable {name} is not set (its settings refer to "
                f"$env:{name})",
                fix=(
                    f"set {name} for the account that runs coprolib (for example in the "
                    "service's environment file or the scheduled task's settings); never write "
                    "the secret itself in coprolib.toml"
                ),
            )
        )
    adapters = get_adapters()
    if destination.adapter not in adapters:
        broken = [e for e in load_errors() if e.name == destination.adapter]
        if broken:
            message = (
                f"the adapter {destination.adapter!r} is installed but failed to load: "
                f"{broken[0].error}"
            )
            fix = (
                f"reinstall it ({install_command(destination.adapter)} --force-reinstall) and "
                "check its version suits this coprolib"
            )
        else:
            message = f"the adapter {destination.adapter!r} is not installed"
            fix = f"run: {install_command(destination.adapter)}  (then coprolib plugins lists it)"
        findings.append(Finding(severity=Severity.ERROR, where=where, message=message, fix=fix))
        return findings
    if missing:
        return findings
    try:
        adapter = adapters[destination.adapter](destination.settings, destination=destination.name)
    except AdapterConfigError as exc:
        findings.append(
            Finding(
                severity=Severity.ERROR,
                where=where,
                message=f"the settings are not right for the {destination.adapter} adapter: {exc}",
                fix="correct the setting named (the adapter's README has a configuration reference)",
            )
        )
        return findings
    except Exception as exc:
        findings.append(
            Finding(
                severity=Severity.ERROR,
                where=where,
                message=f"the {destination.adapter} adapter could not start: {type(exc).__name__}",
                fix=f"reinstall it ({install_command(destination.adapter)}) and report the error",
            )
        )
        return findings
    try:
        if not remote:
            findings.append(
                Finding(
                    severity=Severity.OK,
                    where=where,
                    message=f"settings accepted by the {destination.adapter} adapter",
                )
            )
            return findings
        try:
            result = adapter.check()
        except Exception as exc:
            status, _, text = adapter.classify(exc)
            result_ok, result_status, result_message = False, status, text
        else:
            result_ok, result_status, result_message = result.ok, result.status, result.message
        if result_ok:
            findings.append(
                Finding(
                    severity=Severity.OK,
                    where=where,
                    message=f"{destination.adapter}: {result_message or 'reachable'}",
                )
            )
            return findings
        target = _target(destination)
        message, fix = _advice(result_status, result_message, target, destination)
        severity = Severity.WARNING if result_status is Status.THROTTLED else Severity.ERROR
        findings.append(Finding(severity=severity, where=where, message=message, fix=fix))
        return findings
    finally:
        adapter.close()


def _advice(status: Any, detail: str, target: str, destination: Destination) -> tuple[str, str]:
    from coprolib.adapters import Status

    secrets = ", ".join(f"${n}" for n in destination.secret_refs()) or "the credentials"
    if status is Status.AUTH:
        return (
            f"{target} refused the credentials: {detail}",
            f"check {secrets} holds a current secret (not expired or revoked) and that the "
            "account has the permissions listed in the adapter's README",
        )
    if status in (Status.RETRYABLE, Status.DISABLED):
        return (
            f"cannot reach {target}: {detail}",
            "check the address and port in the settings, that this machine can reach it "
            "(firewall rules, proxy) and that the service is running",
        )
    if status is Status.THROTTLED:
        return (
            f"{target} is limiting requests right now: {detail}",
            "nothing to change; run coprolib doctor again later",
        )
    return (
        f"{target} answered, but something is not set up: {detail}",
        "follow the set-up section of the adapter's README for the named item",
    )
