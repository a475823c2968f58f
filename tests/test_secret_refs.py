"""One ``$env:NAME`` rule and one URL mask, used by the configuration, ``[plugins.serve]``,
adapters' ``Secret`` fields, ledger locations and log lines alike."""

from __future__ import annotations

import logging

import pytest

from coprolib.adapters.secrets import LOG_FILTER, resolve
from coprolib.config import MASK, ConfigError, SecretRef, mask_url, parse_config
from coprolib.serve.settings import serve_settings


def test_a_reference_is_parsed_resolved_and_shown_by_name_only() -> None:
    ref = SecretRef.parse("$env:CRM_SECRET")
    assert ref == SecretRef("CRM_SECRET") and str(ref) == "$env:CRM_SECRET"
    assert ref.resolve({"CRM_SECRET": "s3cr3t"}) == "s3cr3t"
    assert "s3cr3t" not in ref.masked() and "CRM_SECRET" in ref.masked()
    for not_a_ref in ("CRM_SECRET", "$env:", "$env:1X", "$env: X", "x $env:X", 3, None):
        assert SecretRef.parse(not_a_ref) is None


@pytest.mark.parametrize(
    ("environ", "says"), [({}, "which is not set"), ({"CRM_SECRET": ""}, "which is empty")]
)
def test_an_unset_or_empty_variable_is_named_never_resolved(
    environ: dict[str, str], says: str
) -> None:
    with pytest.raises(ValueError, match=f"CRM_SECRET, {says}"):
        SecretRef("CRM_SECRET").resolve(environ)


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("$env:bad-name", "a secret reference is written $env:NAME"),
        ("hunter2", "never in the file"),
    ],
)
def test_every_reader_refuses_a_bad_reference_with_the_same_words(written: str, says: str) -> None:
    with pytest.raises(ValueError) as direct:
        SecretRef.require(written)
    reason = str(direct.value)
    assert says in reason
    with pytest.raises(ValueError) as adapter:
        resolve(written)
    assert str(adapter.value) == reason
    config = parse_config(f'[plugins.serve.webhooks.mosaic]\nsecret = "{written}"\n', "c.toml")
    with pytest.raises(ConfigError) as serve:
        serve_settings(config, {})
    assert serve.value.key == "plugins.serve.webhooks.mosaic.secret"
    assert serve.value.message == reason
    if written.startswith("$env"):
        toml = (
            '[destinations.crm]\nadapter = "file"\naudience = "internal"\n'
            f'purposes = ["training"]\nsettings = {{ token = "{written}" }}\n'
        )
        with pytest.raises(ConfigError) as destination:
            parse_config(toml, "c.toml")
        assert destination.value.message == reason and destination.value.line == 5


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://app:pw@db/ledger", "postgresql://app:********@db/ledger"),
        ("postgresql://app:p/w@db/ledger", "postgresql://app:********@db/ledger"),
        ("redis://:pw@cache:6379", "redis://:********@cache:6379"),
        ("connecting to HTTPS://u:pw@h/x now", "connecting to HTTPS://u:********@h/x now"),
        ("https://example.invalid/path?q=1", "https://example.invalid/path?q=1"),
        ("sqlite:///ledger.db", "sqlite:///ledger.db"),
    ],
)
def test_one_url_mask(text: str, masked: str) -> None:
    assert mask_url(text) == masked
    assert mask_url(text, mask=None) == masked.replace(":********@", "@")


def test_ledger_locations_and_log_lines_use_the_url_mask() -> None:
    pytest.importorskip("psycopg")
    from coprolib.ledger import LedgerError
    from coprolib.ledger.backends import PostgresBackend

    with pytest.raises(LedgerError) as caught:  # nothing listens on port 1
        PostgresBackend("postgresql://app:pw-not-shown@127.0.0.1:1/none", connect_timeout=1)
    assert "postgresql://app:********@127.0.0.1:1/none" in str(caught.value)
    assert "pw-not-shown" not in str(caught.value)
    record = logging.LogRecord(
        "coprolib", logging.INFO, __file__, 1, "to %s", ("s://u:pw@h",), None
    )
    LOG_FILTER.filter(record)
    assert record.getMessage() == f"to s://u:{MASK}@h"
