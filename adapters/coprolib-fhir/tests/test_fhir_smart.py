"""SMART Backend Services (asymmetric client assertion) against the FHIR stand-in's token
endpoint, which verifies every assertion against the client's registered JWK Set."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from coprolib_fhir import FhirAdapter
from coprolib_fhir.smart import ASSERTION_TYPE, BackendServicesToken
from coprolib_fhir.testing import FhirServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from coprolib.adapters import ConfigError, Secret, Status
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer
from coprolib.testing.shares import make_share

CLIENT_ID = "coprolib-backend-7c1e"
SCOPE = "system/Communication.cruds"


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _jwk(key: Any, kid: str, algorithm: str) -> dict[str, Any]:
    maker = jwt.algorithms.RSAAlgorithm if algorithm == "RS384" else jwt.algorithms.ECAlgorithm
    public = json.loads(maker.to_jwk(key.public_key()))
    return {**public, "kid": kid, "alg": algorithm, "use": "sig"}


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "RS384": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES384": ec.generate_private_key(ec.SECP384R1()),
        "other": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture
def fhir(keys: dict[str, Any]) -> FhirServer:
    server = FhirServer()
    server.register_jwks(
        CLIENT_ID,
        {"keys": [_jwk(keys["RS384"], "rsa-1", "RS384"), _jwk(keys["ES384"], "ec-1", "ES384")]},
    )
    return server


@pytest.fixture
def http(fhir: FhirServer) -> Iterator[FaultServer]:
    with FaultServer(fhir.app) as started:
        yield started


def smart_adapter(
    base: str, keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> FhirAdapter:
    algorithm = settings.get("algorithm", "RS384")
    monkeypatch.setenv("TEST_FHIR_KEY", _pem(keys[settings.pop("key", algorithm)]))
    values: dict[str, Any] = {
        "url": f"{base}/fhir",
        "recipients": ["Organization/sab-board"],
        "token_url": f"{base}/token",
        "client_id": CLIENT_ID,
        "private_key": "$env:TEST_FHIR_KEY",
        "key_id": "rsa-1" if algorithm == "RS384" else "ec-1",
        "scope": SCOPE,
        "http": {"read_timeout": 5.0},
        **settings,
    }
    return FhirAdapter(values, destination="test")


class TestFhirSmartConformance(AdapterConformance):
    """The standard suite signed in with an RS384 client assertion."""

    @pytest.fixture
    def adapter(
        self,
        fhir: FhirServer,
        http: FaultServer,
        keys: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
    ) -> Iterator[FhirAdapter]:
        self.server = fhir
        made = smart_adapter(http.url, keys, monkeypatch)
        yield made
        made.close()
        assert fhir.invalid == [] and fhir.assertion_failures == []

    def remote_keys(self, adapter: Any) -> list[str]:
        return self.server.keys()

    def http_adapter(self, base_url: str, *, read_timeout: float) -> FhirAdapter:
        return FhirAdapter(
            {"url": base_url, "http": {"read_timeout": read_timeout}}, destination="test"
        )


@pytest.mark.parametrize("algorithm", ["RS384", "ES384"])
def test_both_required_algorithms_sign_in(
    fhir: FhirServer,
    http: FaultServer,
    keys: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    algorithm: str,
) -> None:
    with smart_adapter(http.url, keys, monkeypatch, algorithm=algorithm) as adapter:
        assert adapter.check().ok
        assert adapter.deliver([make_share(f"smart-{algorithm}")])[0].ok
    assert fhir.requests["token"] == 1 and fhir.assertion_failures == []


def test_an_unregistered_key_is_auth_and_names_the_kid(
    fhir: FhirServer, http: FaultServer, keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with smart_adapter(http.url, keys, monkeypatch, key="other") as adapter:
        result = adapter.deliver([make_share("wrong-key")])[0]
    assert result.status is Status.AUTH and "rsa-1" in (result.message or "")
    assert fhir.store == {}
    assert fhir.assertion_failures and "Signature" in fhir.assertion_failures[0]


def test_the_stand_in_checks_every_claim(
    fhir: FhirServer, http: FaultServer, keys: dict[str, Any]
) -> None:
    token_url = f"{http.url}/token"
    good = {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": token_url,
        "exp": int(time.time()) + 120,
        "jti": str(uuid.uuid4()),
    }

    def post(claims: dict[str, Any], kid: str = "rsa-1", alg: str = "RS384") -> int:
        key = keys["RS384"] if alg in ("RS384", "RS256") else keys["ES384"]
        assertion = jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})
        form = {
            "grant_type": "client_credentials",
            "scope": SCOPE,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        return requests.post(token_url, data=form, timeout=5).status_code

    assert post(good) == 200
    assert post(good) == 401, "a jti may be used once"
    fresh = lambda **changes: {**good, "jti": str(uuid.uuid4()), **changes}  # noqa: E731
    assert post(fresh(aud="https://elsewhere.example/token")) == 401
    assert post(fresh(exp=int(time.time()) + 3600)) == 401, "exp at most five minutes ahead"
    assert post(fresh(exp=int(time.time()) - 60)) == 401
    assert post(fresh(sub="someone-else")) == 401
    assert post(fresh(iss="unknown-client", sub="unknown-client")) == 401
    assert post(fresh(), kid="not-registered") == 401
    assert post(fresh(), alg="RS256") == 401, "SMART asks for RS384 or ES384"
    assert post(fresh(), kid="ec-1", alg="ES384") == 200
    assert len(fhir.assertion_failures) == 8


def test_every_assertion_is_new(keys: dict[str, Any]) -> None:
    source = BackendServicesToken(
        "https://fhir.council.example/token",
        CLIENT_ID,
        Secret(_pem(keys["RS384"])),
        key_id="rsa-1",
    )
    first, second = source.assertion(), source.assertion()
    header = jwt.get_unverified_header(first)
    assert header["alg"] == "RS384" and header["kid"] == "rsa-1" and header["typ"] == "JWT"
    claims = jwt.decode(
        first, keys["RS384"].public_key(), algorithms=["RS384"], audience=source.token_url
    )
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert 0 < claims["exp"] - time.time() <= 300
    assert claims["jti"] != jwt.decode(second, options={"verify_signature": False})["jti"]
    source.close()


def test_settings_are_checked(keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="ES384 needs an EC key"):
        smart_adapter(
            "https://fhir.council.example", keys, monkeypatch, algorithm="ES384", key="RS384"
        )
    with pytest.raises(ConfigError, match="key_id"):
        smart_adapter("https://fhir.council.example", keys, monkeypatch, key_id=None)
    monkeypatch.setenv("NOT_A_KEY", "-----BEGIN NOTHING-----")
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        FhirAdapter(
            {
                "url": "https://fhir.council.example/fhir",
                "token_url": "https://fhir.council.example/token",
                "client_id": CLIENT_ID,
                "key_id": "k",
                "private_key": "$env:NOT_A_KEY",
            }
        )


def test_the_stand_in_will_not_run_without_its_validator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without fhir.resources the stand-in refuses to start, rather than accept anything."""
    monkeypatch.setitem(sys.modules, "fhir.resources.R4B", None)
    with pytest.raises(RuntimeError, match=r"fhir.resources.*coprolib-fhir\[test\]"):
        FhirServer()
    assert FhirServer(validate=False).store == {}
