"""coprolib-sftp against a real OpenSSH sshd on 127.0.0.1 (see ``sshd_server``)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import paramiko
import pytest
from coprolib_sftp import SftpAdapter, file_stem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sshd_server import LocalSshd, new_key
from tcp_proxy import FaultProxy

from coprolib.adapters import ConfigError, RetractRef, Secret, Status, build_adapter
from coprolib.cli.doctor import Severity, run_checks
from coprolib.records import Share
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.shares import canonical_shares, make_share

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def production_key(share_id: str) -> str:
    """A key shaped like the planner's: ``coprolib-<40 hex>``."""
    return "coprolib-" + hashlib.sha256(share_id.encode()).hexdigest()[:40]


def _keyed(share: Share) -> Share:
    return attrs.evolve(share, idempotency_key=production_key(share.id))


def _settings(sshd: LocalSshd, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": sshd.port,
        "username": sshd.user,
        "host_keys": [sshd.host_public],
        "directory": str(sshd.drop),
        "private_key": Secret(sshd.client_private, "$env:SFTP_PRIVATE_KEY"),
        **extra,
    }


def _ref(result: Any) -> RetractRef:
    return RetractRef(
        share_id=result.share_id, idempotency_key=result.idempotency_key, remote_id=result.remote_id
    )


def manifests(folder: Path) -> dict[str, dict[str, Any]]:
    """Share manifests in the drop, by idempotency key."""
    found = {}
    for path in folder.glob("*.json"):
        if not path.name.endswith(".retracted.json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            found[data["idempotency_key"]] = data
    return found


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def adapter(sshd: LocalSshd) -> Iterator[SftpAdapter]:
    with SftpAdapter(_settings(sshd), destination="case-system") as made:
        yield made


class TestSftpConformance(AdapterConformance):
    """The kit, with the planner's production-shaped keys, against a real sshd."""

    @pytest.fixture
    def adapter(self, sshd: LocalSshd, monkeypatch: pytest.MonkeyPatch) -> Iterator[SftpAdapter]:
        self.sshd = sshd
        monkeypatch.setenv("SFTP_PRIVATE_KEY", sshd.client_private)
        made = SftpAdapter(
            {**_settings(sshd), "private_key": "$env:SFTP_PRIVATE_KEY"}, destination="test"
        )
        yield made
        made.close()

    def shares(self) -> list[Share]:
        return [_keyed(s) for s in super().shares()]

    def make_share(self, share_id: str, **fields: Any) -> Share:
        return _keyed(super().make_share(share_id, **fields))

    def remote_keys(self, adapter: Any) -> list[str]:
        # One manifest per key is the file system's doing; count documents too.
        keys = list(manifests(self.sshd.drop))
        documents = [p for p in self.sshd.drop.glob("*.txt")]
        assert len(documents) == len(keys), "a document without its manifest, or the reverse"
        return keys


# --- delivery ----------------------------------------------------------------------------------


def test_document_and_manifest(adapter: SftpAdapter, sshd: LocalSshd) -> None:
    share = _keyed(canonical_shares()[3])  # unicode
    result = adapter.deliver([share])[0]
    stem = share.idempotency_key
    assert result.ok and result.remote_id == f"{stem}.json"
    assert names(sshd.drop) == [f"{stem}.json", f"{stem}.txt"]  # no temporary file left
    document = (sshd.drop / f"{stem}.txt").read_bytes()
    manifest = json.loads((sshd.drop / f"{stem}.json").read_text(encoding="utf-8"))
    assert manifest["document"] == {
        "file": f"{stem}.txt",
        "media_type": "text/plain; charset=utf-8",
        "bytes": len(document),
        "sha256": hashlib.sha256(document).hexdigest(),
    }
    assert manifest["type"] == "share" and manifest["schema"] == "coprolib.sftp/1"
    assert manifest["share"]["body"] == share.body
    text = document.decode("utf-8")
    assert text.startswith(share.title + "\r\n") and "\n" not in text.replace("\r\n", "")
    assert f"Reference: {share.idempotency_key}" in text


def test_redelivery_replaces_the_same_files_atomically(
    adapter: SftpAdapter, sshd: LocalSshd
) -> None:
    old = _keyed(make_share("again"))
    new = _keyed(make_share("again", body="Revised wording.", version=2))
    adapter.deliver([old])
    stem = old.idempotency_key
    before = {n: (sshd.drop / n).stat().st_ino for n in names(sshd.drop)}
    assert adapter.deliver([new])[0].ok
    after = {n: (sshd.drop / n).stat().st_ino for n in names(sshd.drop)}
    assert set(before) == set(after) == {f"{stem}.json", f"{stem}.txt"}
    # A rename puts a new inode in place: the old file was never rewritten in place.
    assert all(before[n] != after[n] for n in before)
    assert "Revised wording." in (sshd.drop / f"{stem}.txt").read_text(encoding="utf-8")
    assert {(sshd.drop / n).stat().st_mode & 0o777 for n in after} == {0o640}
    assert manifests(sshd.drop)[stem]["digest"] == new.digest != old.digest


def test_fallback_when_the_server_has_no_posix_rename(
    adapter: SftpAdapter, sshd: LocalSshd, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(self: paramiko.SFTPClient, old: str, new: str) -> None:
        raise OSError("Operation unsupported")  # what paramiko raises for SSH_FX_OP_UNSUPPORTED

    monkeypatch.setattr(paramiko.SFTPClient, "posix_rename", unsupported)
    share = _keyed(make_share("v3-server"))
    assert adapter.deliver([share])[0].ok
    assert adapter.deliver([share])[0].ok  # the target exists now: removed, then renamed
    assert "rename (not atomic)" in adapter.check().message
    assert names(sshd.drop) == [f"{share.idempotency_key}.json", f"{share.idempotency_key}.txt"]


# --- retraction ----------------------------------------------------------------------------------


def test_retraction_manifest_then_files_removed(adapter: SftpAdapter, sshd: LocalSshd) -> None:
    share = _keyed(make_share("gone"))
    delivered = adapter.deliver([share])[0]
    first = adapter.retract([_ref(delivered)])[0]
    second = adapter.retract([_ref(delivered)])[0]
    never = adapter.retract(
        [RetractRef(share_id="never", idempotency_key=production_key("never"))]
    )[0]
    stem = share.idempotency_key
    assert (first.status, first.retracted, first.message) == (Status.OK, True, None)
    assert second.ok and second.retracted and "already" in (second.message or "")
    assert never.ok and never.retracted
    assert names(sshd.drop) == sorted(
        [f"{stem}.retracted.json", f"{production_key('never')}.retracted.json"]
    )
    notice = json.loads((sshd.drop / f"{stem}.retracted.json").read_text(encoding="utf-8"))
    assert notice["type"] == "retraction" and notice["idempotency_key"] == stem
    assert notice["files"] == [f"{stem}.txt", f"{stem}.json"]
    # Delivered again (consent given again): the retraction notice goes.
    assert adapter.deliver([share])[0].ok
    assert names(sshd.drop) == sorted(
        [f"{production_key('never')}.retracted.json", f"{stem}.json", f"{stem}.txt"]
    )


# --- keys ----------------------------------------------------------------------------------------

_ANY_KEY = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=200,
)


@settings(max_examples=300)
@given(a=_ANY_KEY, b=_ANY_KEY)
def test_every_key_gives_a_safe_distinct_stable_name(a: str, b: str) -> None:
    assert SAFE_NAME.match(file_stem(a)) and len(file_stem(a)) <= 110
    assert file_stem(a) == file_stem(a)
    if a != b:
        assert file_stem(a) != file_stem(b)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=_ANY_KEY)
def test_any_key_round_trips_through_the_drop(
    adapter: SftpAdapter, sshd: LocalSshd, key: str
) -> None:
    share = attrs.evolve(make_share("h"), idempotency_key=key)
    assert adapter.deliver([share])[0].ok
    assert adapter.deliver([share])[0].ok
    assert key in manifests(sshd.drop)
    assert all(SAFE_NAME.match(n) for n in names(sshd.drop) if not n.startswith("."))
    assert adapter.retract([RetractRef(share_id="h", idempotency_key=key)])[0].retracted
    assert key not in manifests(sshd.drop)


# --- host keys -----------------------------------------------------------------------------------


def test_unknown_host_key_is_refused_before_logging_in(sshd: LocalSshd) -> None:
    _, stranger = new_key()
    with SftpAdapter(_settings(sshd, host_keys=[stranger]), destination="t") as adapter:
        result = adapter.deliver([_keyed(make_share("mitm"))])[0]
        checked = adapter.check()
    served = paramiko.Ed25519Key(data=_blob(sshd.host_public))
    assert result.status is Status.AUTH
    assert "not pinned" in (result.message or "")
    assert _fingerprint(served) in (result.message or "")  # says which key it saw
    assert not checked.ok and checked.status is Status.AUTH
    assert names(sshd.drop) == []
    # The key was refused before any credential went to the server...
    assert "publickey" not in sshd.log.read_text()
    with SftpAdapter(_settings(sshd), destination="t") as good:
        assert good.check().ok
    # ...which sshd does log when one does.
    assert "Accepted publickey" in sshd.log.read_text()


def test_fingerprint_pin_and_rotation_list(sshd: LocalSshd) -> None:
    served = paramiko.Ed25519Key(data=_blob(sshd.host_public))
    _, old = new_key()
    pins = [old, _fingerprint(served)]
    with SftpAdapter(_settings(sshd, host_keys=pins), destination="t") as adapter:
        checked = adapter.check()
    assert checked.ok, checked.message
    assert _fingerprint(served) in checked.message


def test_pinned_key_type_the_server_lacks_is_refused(sshd: LocalSshd) -> None:
    rsa_line = (
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDBDJBX8hGBAQd6vYnBvZJzQvXVrpl6ZyDvMiQsAdmdTvjlSrGM"
        "1kYPKkHUvo1Xrj1aFNQpVHHyiWzw4LBVVqsiKbaC1iQRRMWL5fsaX/Gw51u4yn5ZXIUKFSFYP50+QTrDMPTsNWOJ"
        "Op6nIYvPNu9Sq3w/1sT1Dxx9qU4Gkct0Mw=="
    )
    try:
        SftpAdapter(_settings(sshd, host_keys=[rsa_line]))
    except ConfigError:
        pytest.skip("this paramiko cannot parse the sample RSA key")
    with SftpAdapter(_settings(sshd, host_keys=[rsa_line]), destination="t") as adapter:
        result = adapter.deliver([_keyed(make_share("rsa"))])[0]
    assert result.status is Status.AUTH and "pinned type" in (result.message or "")


def _blob(line: str) -> bytes:
    import base64

    return base64.b64decode(line.split()[1])


def _fingerprint(key: paramiko.PKey) -> str:
    from coprolib_sftp import fingerprint

    return fingerprint(key)


# --- refusals and faults -------------------------------------------------------------------------


def test_wrong_client_key_is_auth(sshd: LocalSshd) -> None:
    other, _ = new_key()
    with SftpAdapter(_settings(sshd, private_key=Secret(other)), destination="t") as adapter:
        result = adapter.deliver([_keyed(make_share("k"))])[0]
    assert result.status is Status.AUTH and "refused the private key" in (result.message or "")


def test_permission_denied_is_auth(sshd: LocalSshd) -> None:
    settings_ = _settings(sshd, port=sshd.read_only_port)
    with SftpAdapter(settings_, destination="t") as adapter:
        result = adapter.deliver([_keyed(make_share("ro"))])[0]
        retracted = adapter.retract([RetractRef(share_id="ro", idempotency_key="coprolib-1")])[0]
        checked = adapter.check()
    assert result.status is Status.AUTH and "permission to write" in (result.message or "")
    assert retracted.status is Status.AUTH
    assert checked.status is Status.AUTH
    assert names(sshd.drop) == []


def test_missing_folder_is_permanent(sshd: LocalSshd) -> None:
    settings_ = _settings(sshd, directory=str(sshd.drop / "no-such-folder"))
    with SftpAdapter(settings_, destination="t") as adapter:
        result = adapter.deliver([_keyed(make_share("nf"))])[0]
    assert result.status is Status.PERMANENT and "does not exist" in (result.message or "")


def test_server_down_then_back(adapter: SftpAdapter, sshd: LocalSshd) -> None:
    share = _keyed(make_share("down"))
    delivered = adapter.deliver([share])[0]
    sshd.stop()  # ends the open session too
    failed_retract = adapter.retract([_ref(delivered)])[0]
    failed_check = adapter.check()
    failed_deliver = adapter.deliver([_keyed(make_share("down-2"))])[0]
    sshd.start()
    retracted = adapter.retract([_ref(delivered)])[0]
    assert failed_retract.status is Status.RETRYABLE and not failed_retract.retracted
    assert not failed_check.ok and failed_check.status is Status.RETRYABLE
    assert failed_deliver.status is Status.RETRYABLE
    assert "cannot connect" in (failed_deliver.message or "")
    assert retracted.ok and manifests(sshd.drop) == {}


def test_connection_closed_while_idle_is_reopened(adapter: SftpAdapter, sshd: LocalSshd) -> None:
    assert adapter.deliver([_keyed(make_share("before"))])[0].ok
    sessions = sshd.children()
    assert sessions, "the adapter keeps its connection open between batches"
    for pid in sessions:  # the server (or a firewall) drops the idle connection
        os.kill(pid, signal.SIGKILL)
    result = adapter.deliver([_keyed(make_share("after"))])[0]
    assert result.ok, result.message
    assert set(manifests(sshd.drop)) == {production_key("before"), production_key("after")}


def test_random_cuts_never_crash_and_leave_whole_files(sshd: LocalSshd) -> None:
    rng = random.Random(7)
    shares = [_keyed(s) for s in canonical_shares()] * 2
    with FaultProxy(sshd.port) as proxy:
        proxy.plan = [rng.choice([None, 2_500, 6_000, 12_000, 40_000]) for _ in range(40)]
        with SftpAdapter(_settings(sshd, port=proxy.port), destination="t") as adapter:
            first = adapter.deliver(shares)
            refs = [_ref(r) for r in first if r.ok][:3]
            retracted = adapter.retract(refs)
        assert proxy.cuts >= 3
    assert {r.status for r in first + retracted} <= {Status.OK, Status.RETRYABLE}
    assert any(r.status is Status.RETRYABLE for r in first)
    held = manifests(sshd.drop)
    for key, manifest in held.items():  # every manifest's document is whole
        document = (sshd.drop / manifest["document"]["file"]).read_bytes()
        assert hashlib.sha256(document).hexdigest() == manifest["document"]["sha256"], key


def test_connection_cut_mid_transfer_leaves_no_partial_file(
    adapter: SftpAdapter, sshd: LocalSshd
) -> None:
    share = _keyed(canonical_shares()[4])  # the long body: tens of kilobytes
    with FaultProxy(sshd.port) as proxy:
        settings_ = _settings(sshd, port=proxy.port)
        with SftpAdapter(settings_, destination="t") as cut:
            proxy.cut_after = 20_000
            result = cut.deliver([share])[0]
            assert proxy.cuts == 1
            proxy.cut_after = None
            again = cut.deliver([share])[0]
    assert result.status is Status.RETRYABLE
    assert again.ok
    document = (sshd.drop / f"{share.idempotency_key}.txt").read_bytes()
    sha = manifests(sshd.drop)[share.idempotency_key]["document"]["sha256"]
    assert hashlib.sha256(document).hexdigest() == sha
    final = [n for n in names(sshd.drop) if not n.startswith(".")]
    assert final == [f"{share.idempotency_key}.json", f"{share.idempotency_key}.txt"]


def test_stalled_server_times_out(sshd: LocalSshd) -> None:
    with FaultProxy(sshd.port) as proxy:
        settings_ = _settings(sshd, port=proxy.port, timeout=0.5, connect_timeout=0.5)
        with SftpAdapter(settings_, destination="t") as adapter:
            assert adapter.check().ok
            proxy.stall = True
            result = adapter.deliver([_keyed(make_share("stall"))])[0]
            checked = adapter.check()
    assert result.status is Status.RETRYABLE
    assert not checked.ok and checked.status is Status.RETRYABLE


# --- settings ------------------------------------------------------------------------------------


def test_key_file_with_passphrase(sshd: LocalSshd, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.BestAvailableEncryption(b"correct horse battery staple"),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    (sshd.folder / "authorized_keys").write_bytes(public + b"\n")
    path = tmp_path / "id_ed25519"
    path.write_bytes(encrypted)
    base = {k: v for k, v in _settings(sshd).items() if k != "private_key"}
    # The file is read when first needed, so a wrong passphrase shows at first use.
    without = SftpAdapter({**base, "private_key_file": str(path)}, destination="case-system")
    with pytest.raises(ConfigError) as caught:
        _ = without.key
    assert "passphrase" in str(caught.value) and "private_key_file" in str(caught.value)
    passphrase = Secret("correct horse battery staple", "$env:SFTP_KEY_PASSPHRASE")
    with SftpAdapter(
        {**base, "private_key_file": str(path), "passphrase": passphrase}, destination="t"
    ) as adapter:
        assert adapter.check().ok


def test_file_mode_is_set(sshd: LocalSshd) -> None:
    with SftpAdapter(_settings(sshd, file_mode="0600"), destination="t") as adapter:
        assert adapter.deliver([_keyed(make_share("private"))])[0].ok
    assert {p.stat().st_mode & 0o777 for p in sshd.drop.iterdir()} == {0o600}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"file_mode": "0644"}, "file_mode"),
        ({"file_mode": "rw-r-----"}, "file_mode"),
        ({"host_keys": []}, "host_keys"),
        ({"host_keys": ["ssh-ed25519 not-base64!"]}, "host_keys[0]"),
        ({"host_keys": ["SHA256:short"]}, "host_keys[0]"),
        ({"private_key_file": "/etc/coprolib/id"}, "private_key"),
        ({"port": 0}, "port"),
        ({"private_key": Secret("-----BEGIN NOTHING-----")}, "private_key"),
    ],
)
def test_bad_settings_name_the_field(sshd: LocalSshd, change: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SftpAdapter({**_settings(sshd), **change}, destination="case-system")
    assert named in str(caught.value)
    assert sshd.client_private not in str(caught.value)


def test_registered_by_entry_point(sshd: LocalSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTP_PRIVATE_KEY", sshd.client_private)
    made = build_adapter(
        "sftp", {**_settings(sshd), "private_key": "$env:SFTP_PRIVATE_KEY"}, destination="lcs"
    )
    assert isinstance(made, SftpAdapter)
    described = json.dumps(made.describe())
    assert "PRIVATE KEY" not in described and "$env:SFTP_PRIVATE_KEY" in described
    assert "SHA256:" in described


# --- coprolib doctor -----------------------------------------------------------------------------


def _doctor(tmp_path: Path, sshd: LocalSshd, host_key: str) -> list[Any]:
    config = tmp_path / "coprolib.toml"
    config.write_text(
        f'ledger = "sqlite:///{tmp_path}/ledger.db"\n'
        "[destinations.case-system]\n"
        'adapter = "sftp"\naudience = "partners"\npurposes = ["practice_guidance"]\n'
        "[destinations.case-system.settings]\n"
        f'host = "127.0.0.1"\nport = {sshd.port}\nusername = "{sshd.user}"\n'
        f'host_keys = ["{host_key}"]\ndirectory = "{sshd.drop}"\n'
        'private_key = "$env:SFTP_PRIVATE_KEY"\n',
        encoding="utf-8",
    )
    findings = run_checks(str(config), environ={"SFTP_PRIVATE_KEY": sshd.client_private})
    return [f for f in findings if f.where == "destinations.case-system"]


def test_doctor(tmp_path: Path, sshd: LocalSshd, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTP_PRIVATE_KEY", sshd.client_private)
    (good,) = _doctor(tmp_path, sshd, sshd.host_public)
    _, stranger = new_key()
    (bad,) = _doctor(tmp_path, sshd, stranger)
    assert good.severity is Severity.OK and "matches" in good.message, good.message
    assert bad.severity is Severity.ERROR and "not pinned" in bad.message
    assert names(sshd.drop) == []  # the probe file was removed


def test_readme_settings_build_the_adapter(tmp_path: Path) -> None:
    import tomllib

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    settings_ = tomllib.loads(block)["destinations"]["case-system"]["settings"]
    private, _ = new_key()
    key_file = tmp_path / "sftp_ed25519"
    key_file.write_text(private)
    made = SftpAdapter({**settings_, "private_key_file": str(key_file)}, destination="case-system")
    assert made.describe()["settings"]["directory"] == "/exchange/coprolib/inbox"
