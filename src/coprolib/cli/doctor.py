"""``coprolib doctor``: check the configuration and every destination, and say what is wrong in
words a council IT officer can act on.

:func:`run_checks` reads ``coprolib.toml``, then checks the ledger (reachable, schema version, encrypted or not, and
the key present when it is), then for each destination: are the environment variables its
secrets name set, is its adapter installed (else the ``pip install`` command of a known
distribution, or the nearest known adapter name), do its settings fit the adapter's schema
(checked even while secrets are missing), and does the adapter's own ``check()`` reach the
system and get the credentials accepted. Each result is a :class:`Finding` with a plain-words
``message`` and, for problems, a ``fix``. Nothing is ever sent and no secret is ever shown.
"""

from __future__ import annotations

import difflib
import enum
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from coprolib.adapters import ConfigError as AdapterConfigError
from coprolib.adapters import Status
from coprolib.adapters.secrets import Secret
from coprolib.config import (
    Config,
    ConfigError,
    Destination,
    SecretRef,
    find_config,
    load_config,
)
from coprolib.ledger import KEY_ENV, SCHEMA_VERSION, KeyRing, LedgerError
from coprolib.ledger.opening import LEDGER_ENV, _read_version, connect, locate_ledger
from coprolib.plugins import get_adapters, load_errors

#: The distribution that provides each adapter name, for the ``pip install`` advice (the
#: adapters under ``adapters/``; ``file`` is built in).
ADAPTER_PACKAGES: Mapping[str, str] = {
    "webhook": "coprolib-webhook",
    "fhir": "coprolib-fhir",
    "govuk-notify": "coprolib-notify",
    "email": "coprolib-email",
    "dataverse": "coprolib-dataverse",
    "sharepoint-list": "coprolib-sharepoint",
    "teams-workflow": "coprolib-sharepoint",
    "salesforce": "coprolib-salesforce",
    "servicenow": "coprolib-servicenow",
    "graph-mail": "coprolib-graphmail",
}

#: Stands in for a secret whose variable is unset while the settings' shape is checked; it never
#: reaches an adapter that sends anything.
_UNSET_SECRET = "unset-secret-checked-for-shape-only"

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
    findings.extend(check_ledger(loaded, environ=env))
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


def check_ledger(config: Config, *, environ: Mapping[str, str] | None = None) -> list[Finding]:
    """The findings for the ledger commands would use ($COPROLIB_LEDGER, else the
    configuration's): reachable, schema version, encrypted or not, and the key present when it
    is encrypted. Reads only: never creates or migrates a ledger."""
    env = os.environ if environ is None else environ
    # The ledger every command would open ($COPROLIB_LEDGER over the file's), decided where
    # every command decides it.
    location = locate_ledger(None, config, environ=env)
    if location.source == "variable":
        where = f"${LEDGER_ENV}"
    else:
        where = f"{config.path or 'coprolib.toml'}: ledger"
    if location.source == "default":
        return [
            Finding(
                severity=Severity.WARNING,
                where=where,
                message="no ledger is set, so nothing records what was shared",
                fix='add ledger = "sqlite:///coprolib.db" (or a postgresql:// URL)',
            )
        ]
    url = location.url
    file = location.sqlite_path
    if file is not None:
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
        if not file.exists():
            return [
                Finding(
                    severity=Severity.WARNING,
                    where=where,
                    message=f"the ledger file {file} does not exist yet",
                    fix="create it with `coprolib init` (or `coprolib import`) in that folder",
                )
            ]
    try:
        keys = KeyRing.from_text(env.get(KEY_ENV))
    except LedgerError as exc:
        return [
            Finding(
                severity=Severity.ERROR,
                where=where,
                message=_one_line(exc),
                fix=f"set {KEY_ENV} to the key `coprolib init --generate-key` or "
                "`coprolib rekey --generate` printed, exactly as printed",
            )
        ]
    try:
        db = connect(url)
    except LedgerError as exc:
        fix = (
            "install it: pip install 'coprolib[postgres]'"
            if "psycopg" in str(exc)
            else "check the ledger URL in the configuration, that the database server is "
            "running and that this machine can reach it"
        )
        return [Finding(severity=Severity.ERROR, where=where, message=_one_line(exc), fix=fix)]
    try:
        return _ledger_state(db, keys, where, SCHEMA_VERSION, KEY_ENV)
    except LedgerError as exc:
        return [
            Finding(
                severity=Severity.ERROR,
                where=where,
                message=str(exc),
                fix="point ledger at a coprolib ledger (or an empty database)",
            )
        ]
    finally:
        db.close()


def _ledger_state(db: Any, keys: Any, where: str, known: int, key_env: str) -> list[Finding]:
    version = _read_version(db)
    if version is None:
        return [
            Finding(
                severity=Severity.WARNING,
                where=where,
                message=f"{db.where} is reachable but holds no ledger yet",
                fix="create it with `coprolib init` (or `coprolib import`)",
            )
        ]
    findings = [
        Finding(
            severity=Severity.OK,
            where=where,
            message=f"{db.where} is reachable, schema version {version}",
        )
    ]
    if version > known:
        findings.append(
            Finding(
                severity=Severity.ERROR,
                where=where,
                message=f"schema version {version} is newer than this coprolib understands "
                f"({known})",
                fix="upgrade coprolib on this machine",
            )
        )
    elif version < known:
        findings.append(
            Finding(
                severity=Severity.WARNING,
                where=where,
                message=f"schema version {version} is older than this coprolib's ({known}); "
                "it is migrated the next time a command opens it",
                fix="run `coprolib migrate` now (back the ledger up first)",
            )
        )
    row = db.query_one("SELECT value FROM coprolib_meta WHERE key = 'key_id'")
    key_id = None if row is None else str(row[0])
    held = () if keys is None else tuple(keys.ids)
    if key_id is None:
        findings.append(
            Finding(
                severity=Severity.WARNING,
                where=where,
                message="the ledger is not encrypted"
                + (f" although {key_env} is set" if held else ""),
                fix=f"encrypt it with `coprolib rekey{'' if held else ' --generate'}` and keep "
                f"the key in the secrets store of the account that runs coprolib ({key_env})",
            )
        )
    elif not held:
        findings.append(
            Finding(
                severity=Severity.ERROR,
                where=where,
                message=f"the ledger is encrypted (key id {key_id}) but {key_env} is not set",
                fix=f"set {key_env} to the ledger's key for the account that runs coprolib",
            )
        )
    elif key_id not in held:
        findings.append(
            Finding(
                severity=Severity.ERROR,
                where=where,
                message=f"the ledger is encrypted with key id {key_id}, but {key_env} holds "
                f"key id(s) {', '.join(held)}",
                fix=f"set {key_env} to the key the ledger was encrypted with",
            )
        )
    else:
        findings.append(
            Finding(
                severity=Severity.OK,
                where=where,
                message=f"encrypted (key id {key_id}); {key_env} holds its key",
            )
        )
    return findings


def install_command(adapter: str) -> str | None:
    """The ``pip install`` command for the distribution providing ``adapter``, or None when no
    known distribution provides it (never a made-up package name)."""
    package = ADAPTER_PACKAGES.get(adapter)
    return f"pip install {package}" if package else None


def nearest_adapter(adapter: str, known: set[str]) -> str | None:
    """The known adapter name closest to ``adapter`` (a typo such as ``files``), if any."""
    close = difflib.get_close_matches(adapter, sorted(known), n=1, cutoff=0.6)
    return close[0] if close else None


def _with_secrets(value: Any, environ: Mapping[str, str]) -> Any:
    """``value`` with each ``$env:NAME`` reference made a secret read from ``environ`` (an unset
    one stands in as a placeholder, so the settings' shape can still be checked)."""
    ref = SecretRef.parse(value)
    if ref is not None:
        return Secret(environ.get(ref.name) or _UNSET_SECRET, str(ref))
    if isinstance(value, Mapping):
        return {k: _with_secrets(v, environ) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_with_secrets(v, environ) for v in value]
    return value


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
        findings.append(_not_installed(destination.adapter, set(adapters), where, load_errors()))
        return findings
    adapter_class = adapters[destination.adapter]
    if missing:
        # Check the settings' shape now, so a wrong key is found before the secrets are set:
        # each unset secret stands in as a placeholder, and an error about one is not reported.
        try:
            adapter_class.build_config(
                _with_secrets(destination.settings, environ), destination=destination.name
            )
        except AdapterConfigError as exc:
            text = str(exc)
            if not any(f"$env:{name}" in text for name in missing):
                findings.append(_bad_settings(destination, text, where))
        except Exception as exc:
            findings.append(_could_not_start(destination, exc, where))
        return findings
    try:
        adapter = adapter_class(
            _with_secrets(destination.settings, environ), destination=destination.name
        )
    except AdapterConfigError as exc:
        findings.append(_bad_settings(destination, str(exc), where))
        return findings
    except Exception as exc:
        findings.append(_could_not_start(destination, exc, where))
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


def _not_installed(adapter: str, installed: set[str], where: str, errors: Any) -> Finding:
    broken = [e for e in errors if e.name == adapter]
    command = install_command(adapter)
    if broken:
        again = f"{command} --force-reinstall" if command else "reinstall it"
        return Finding(
            severity=Severity.ERROR,
            where=where,
            message=f"the adapter {adapter!r} is installed but failed to load: {broken[0].error}",
            fix=f"{again}, and check its version suits this coprolib",
        )
    if command:
        return Finding(
            severity=Severity.ERROR,
            where=where,
            message=f"the adapter {adapter!r} is not installed",
            fix=f"run: {command}  (then coprolib plugins lists it)",
        )
    known = installed | set(ADAPTER_PACKAGES)
    nearest = nearest_adapter(adapter, known)
    listing = ", ".join(sorted(known))
    fix = (
        f'did you mean adapter = "{nearest}"? (known adapters: {listing})'
        if nearest
        else f"check the name (known adapters: {listing}); an adapter from elsewhere is "
        "installed as its own README says, then coprolib plugins lists it"
    )
    return Finding(
        severity=Severity.ERROR,
        where=where,
        message=f"there is no adapter called {adapter!r}",
        fix=fix,
    )


def _one_line(text: object) -> str:
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _bad_settings(destination: Destination, text: str, where: str) -> Finding:
    return Finding(
        severity=Severity.ERROR,
        where=where,
        message=f"the settings are not right for the {destination.adapter} adapter: "
        + _one_line(text),
        fix="correct the setting named (the adapter's README has a configuration reference)",
    )


def _could_not_start(destination: Destination, exc: Exception, where: str) -> Finding:
    command = install_command(destination.adapter)
    return Finding(
        severity=Severity.ERROR,
        where=where,
        message=f"the {destination.adapter} adapter could not start: {type(exc).__name__}",
        fix=f"reinstall it ({command}) and report the error"
        if command
        else "reinstall it and report the error to its authors",
    )


def _advice(status: Any, detail: str, target: str, destination: Destination) -> tuple[str, str]:
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
