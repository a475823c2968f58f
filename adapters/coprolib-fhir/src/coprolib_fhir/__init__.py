"""coprolib-fhir: insight shares as FHIR R4 ``Communication`` resources.

Each share becomes one ``Communication`` whose ``identifier`` (under a configurable system URI)
is the share's idempotency key, written in ``batch`` or ``transaction`` Bundles with conditional
update (``PUT Communication?identifier=…``) or conditional create (``ifNoneExist``), so a
delivery repeated any number of times leaves one resource. Retraction marks the resource
``entered-in-error`` and then deletes it with a conditional ``DELETE``. ``OperationOutcome``
issues are read into coprolib's error classes. Auth: a bearer token or OAuth 2.0 client
credentials. :mod:`coprolib_fhir.testing` (in the source tree only, not in
the wheel) is a FHIR-subset server for tests.
"""

from __future__ import annotations

from coprolib import hookimpl
from coprolib.hookspecs import RegisterAdapter
from coprolib_fhir.adapter import FhirAdapter, FhirConfig
from coprolib_fhir.resources import Coding

__all__ = ["Coding", "FhirAdapter", "FhirConfig", "register_adapters"]


@hookimpl
def register_adapters(register: RegisterAdapter) -> None:
    """Register the ``fhir`` destination adapter."""
    register("fhir", FhirAdapter)
