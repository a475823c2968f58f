"""coprolib.toml: destinations, feedback days, $env secrets, errors with key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from coprolib.config import MASK, ConfigError, key_lines, load_config, parse_config
from coprolib.records.enums import Audience, IdentityLevel, Purpose

GOOD = """\
ledger = "sqlite:///example.db"

[feedback]
scheduled_days = 5
shared_days = 30

[destinations.dynamics-partners]
adapter = "dataverse"
audience = "partners"
purposes = ["service_improvement", "commissioning"]
max_identity = "pseudonymous"
quotes = true
min_contributors = 3
feedback = { shared_days = 60 }

[destinations.dynamics-partners.settings]
url = "https://example.invalid"
client_secret = "$env:COPRO_TEST_SECRET"
headers = ["X-A: 1", "$env:COPRO_TEST_HEADER"]
nested = { password = "literal-but-masked", api = { token = "$env:COPRO_TEST_SECRET" } }

[destinations.board-file]
adapter = "file"
audience = "board"
purposes = ["board_reporting"]
"""


def test_loads_destinations_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "coprolib.toml"
    path.write_text(GOOD)
    cfg = load_config(path)
    assert cfg.ledger == "sqlite:///example.db"
    d = cfg.destination("dynamics-partners")
    assert d.audience is Audience.PARTNERS
    assert d.purposes == (Purpose.SERVICE_IMPROVEMENT, Purpose.COMMISSIONING)
    assert d.max_identity is IdentityLevel.PSEUDONYMOUS
    assert d.quotes is True and d.min_contributors == 3
    assert (d.feedback.scheduled_days, d.feedback.shared_days) == (5, 60)
    b = cfg.destination("board-file")
    assert b.max_identity is IdentityLevel.ANONYMOUS and b.quotes is False
    assert b.min_contributors == 1 and b.feedback.shared_days == 30
    with pytest.raises(ConfigError, match="no such destination"):
        cfg.destination("nope")


def test_secrets_resolved_in_lists_and_tables_never_in_place(tmp_path: Path) -> None:
    cfg = parse_config(GOOD, "coprolib.toml")
    d = cfg.destination("dynamics-partners")
    env = {"COPRO_TEST_SECRET": "s3cr3t-value", "COPRO_TEST_HEADER": "X-B: 2"}
    resolved = d.resolved_settings(env)
    assert resolved["client_secret"] == "s3cr3t-value"
    assert resolved["headers"] == ["X-A: 1", "X-B: 2"]
    assert resolved["nested"]["api"]["token"] == "s3cr3t-value"
    assert d.settings["client_secret"] == "$env:COPRO_TEST_SECRET"
    assert d.settings["nested"]["api"]["token"] == "$env:COPRO_TEST_SECRET"
    resolved["nested"]["api"]["token"] = "changed"
    assert d.resolved_settings(env)["nested"]["api"]["token"] == "s3cr3t-value"
    assert d.secret_refs() == ("COPRO_TEST_HEADER", "COPRO_TEST_SECRET")


def test_listing_masks_every_secret() -> None:
    cfg = parse_config(GOOD.replace("sqlite:///example.db", "postgresql://u:pw@db/x"), "c.toml")
    listing = repr(cfg.describe())
    assert "pw@" not in listing and "literal-but-masked" not in listing
    masked = cfg.destination("dynamics-partners").masked_settings()
    assert masked["client_secret"].startswith(MASK)
    assert masked["headers"][0] == "X-A: 1" and masked["headers"][1].startswith(MASK)
    assert masked["nested"]["password"] == MASK
    assert "s3cr3t" not in repr(cfg.destination("dynamics-partners"))


def test_missing_env_var_names_setting_and_line(tmp_path: Path) -> None:
    path = tmp_path / "coprolib.toml"
    path.write_text(GOOD)
    d = load_config(path).destination("dynamics-partners")
    with pytest.raises(ConfigError) as err:
        d.resolved_settings({"COPRO_TEST_HEADER": "x"})
    assert err.value.line == 18
    assert "destinations.dynamics-partners.settings.client_secret" in str(err.value)
    assert "COPRO_TEST_SECRET" in str(err.value) and "line 18" in str(err.value)


@pytest.mark.parametrize(
    ("change", "key", "line"),
    [
        (('audience = "board"', 'audience = "everyone"'), "destinations.board-file.audience", 24),
        (('"board_reporting"', '"gossip"'), "destinations.board-file.purposes", 25),
        (("min_contributors = 3", "min_contributors = 0"), "min_contributors", 13),
        (("quotes = true", 'quotes = "yes"'), "destinations.dynamics-partners.quotes", 12),
        (("shared_days = 30", "shared_days = -1"), "feedback.shared_days", 5),
        (('max_identity = "pseudonymous"', 'max_identty = "named"'), "max_identty", 11),
        (('adapter = "file"', ""), "destinations.board-file", 22),
        (('ledger = "sqlite:///example.db"', "ledger = 3"), "ledger", 1),
    ],
)
def test_errors_name_key_and_line(change: tuple[str, str], key: str, line: int) -> None:
    text = GOOD.replace(*change)
    with pytest.raises(ConfigError) as err:
        parse_config(text, "coprolib.toml")
    assert key in str(err.value)
    assert err.value.line == line, str(err.value)
    assert f"coprolib.toml, line {line}" in str(err.value)


def test_syntax_error_names_file() -> None:
    with pytest.raises(ConfigError, match=r"coprolib.toml.*line 2"):
        parse_config('ledger = "x"\n[destinations\n', "coprolib.toml")


def test_finds_config_from_env_or_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COPROLIB_CONFIG", raising=False)
    assert load_config().destinations == {}
    (tmp_path / "coprolib.toml").write_text(GOOD)
    assert "board-file" in load_config().destinations
    other = tmp_path / "other.toml"
    other.write_text('ledger = "sqlite:///other.db"\n')
    monkeypatch.setenv("COPROLIB_CONFIG", str(other))
    assert load_config().ledger == "sqlite:///other.db"


def test_key_lines_handles_dotted_quoted_and_inline_keys() -> None:
    text = '[a]\n"b.c" = 1\nd.e = { f = 2, "g" = 3 }\n[[h.i]]\nj = 4\n'
    lines = key_lines(text)
    assert lines[("a", "b.c")] == 2
    assert lines[("a", "d", "e")] == 3 and lines[("a", "d", "e", "f")] == 3
    assert lines[("a", "d", "e", "g")] == 3
    assert lines[("h", "i", "j")] == 5


def test_settings_are_read_only() -> None:
    d = parse_config(GOOD, "c.toml").destination("dynamics-partners")
    with pytest.raises(TypeError):
        d.settings["url"] = "https://elsewhere.invalid"  # type: ignore[index]
    with pytest.raises(TypeError):
        d.settings["nested"]["password"] = "x"  # type: ignore[index]
    resolved = d.resolved_settings({"COPRO_TEST_SECRET": "s", "COPRO_TEST_HEADER": "h"})
    assert isinstance(resolved["headers"], list) and isinstance(resolved["nested"], dict)


@pytest.mark.parametrize("name", ["../../x", "a b", "x/y", "-lead", "files.csv", "é", "x" * 65])
def test_destination_name_outside_the_safe_set_is_refused_naming_file_and_key(
    tmp_path: Path, name: str
) -> None:
    from coprolib.config import ConfigError, load_config

    path = tmp_path / "coprolib.toml"
    path.write_text(
        f'[destinations."{name}"]\nadapter = "file"\naudience = "internal"\n'
        'purposes = ["training"]\nsettings = { directory = "out" }\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message and repr(name) in message and "letters, digits" in message
    assert "\n" not in message


def test_every_problem_is_on_one_line_the_first_written_first() -> None:
    text = GOOD.replace('audience = "board"', 'audience = "everyone"').replace(
        "quotes = true", "quotes = 3"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "coprolib.toml")
    message = str(err.value)
    assert "\n" not in message
    assert err.value.key == "destinations.dynamics-partners.quotes" and err.value.line == 12
    assert "quotes: expected true or false, got 3" in message
    assert "destinations.board-file.audience: 'everyone' is not one of" in message
