"""SMART Backend Services: OAuth 2.0 client credentials with an asymmetric client assertion.

Follows the SMART App Launch "Backend Services" specification
(https://hl7.org/fhir/smart-app-launch/backend-services.html) and RFC 7523 (JWT client
authentication): the client registers its public key (a JWK Set) with the FHIR server's
authorisation server once; to get a token it POSTs ``grant_type=client_credentials``, ``scope``,
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and
``client_assertion``, a JWT signed with its private key using ``RS384`` or ``ES384`` whose header
carries ``kid`` and ``typ: JWT`` and whose claims are ``iss`` and ``sub`` (the client id), ``aud``
(the token URL), ``exp`` (at most five minutes ahead) and a fresh ``jti``. Signing is PyJWT's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from coprolib.adapters.http import TokenEndpoint
from coprolib.adapters.secrets import Secret

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The signing algorithms SMART Backend Services requires servers to support.
ALGORITHMS = ("RS384", "ES384")
#: How far ahead the assertion's ``exp`` is set (the specification allows five minutes at most).
ASSERTION_LIFETIME = 240


def load_private_key(pem: Secret, algorithm: str) -> Any:
    """The private key in ``pem``, checked to suit ``algorithm`` (RSA for RS384, P-384 for ES384).

    Raises :class:`ValueError` naming the setting, never showing the key.
    """
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.reveal().encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError(
            f"private_key: {pem} is not an unencrypted PEM private key (PKCS#8 or traditional)"
        ) from None
    if algorithm == "RS384" and not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private_key: algorithm RS384 needs an RSA key")
    if algorithm == "ES384" and not (
        isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1"
    ):
        raise ValueError("private_key: algorithm ES384 needs an EC key on curve P-384")
    return key


class BackendServicesToken(TokenEndpoint):
    """A :class:`coprolib.adapters.http.TokenSource` for SMART Backend Services: a new signed
    assertion for every token request, the token cached until ``skew`` seconds before expiry
    and fetched again when ``token(refresh=True)`` is called (after a 401)."""

    default_lifetime = 300.0

    def __init__(
        self,
        token_url: str,
        client_id: str,
        private_key: Secret,
        *,
        key_id: str,
        algorithm: str = "RS384",
        scope: str | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        verify: str | bool = True,
        skew: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
        super().__init__(
            token_url, scope=scope, timeout=timeout, verify=verify, skew=skew, clock=clock
        )
        self.client_id = client_id
        self.key_id = key_id
        self.algorithm = algorithm
        self.wall_clock = wall_clock
        self._key = load_private_key(private_key, algorithm)

    def assertion(self) -> str:
        """A freshly signed client assertion JWT."""
        import jwt

        now = int(self.wall_clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": now + ASSERTION_LIFETIME,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self.key_id, "typ": "JWT"}
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    def credentials(self) -> dict[str, str]:
        """A freshly signed client assertion in place of a secret."""
        return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": self.assertion()}

    def refused(self, response: requests.Response) -> str:
        """What to check when the token endpoint refuses the assertion."""
        return (
            f"token endpoint refused the signed client assertion (HTTP "
            f"{response.status_code}{_oauth_error(response)}): check client_id, that the "
            f"public key with kid {self.key_id!r} is registered for this client, and "
            "this computer's clock"
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def __repr__(self) -> str:
        return f"<BackendServicesToken client_id={self.client_id!r} kid={self.key_id!r}>"


def _oauth_error(response: requests.Response) -> str:
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f" {code}" if isinstance(code, str) and code.isidentifier() else ""
