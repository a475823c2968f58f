"""The adapter tutorial's example adapter, taken from docs/adapter_tutorial.md as written,
passes the conformance suite with the tutorial's fake remote."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from coprolib.adapters import Secret
from coprolib.testing.conformance import AdapterConformance
from coprolib.testing.fault_server import FaultServer, Reply, Request

from .conftest import ROOT

_DOC = (ROOT / "docs" / "adapter_tutorial.md").read_text(encoding="utf-8")


def _tutorial_module() -> types.ModuleType:
    adapter_block = re.findall(r"```python\n(.*?)```", _DOC, flags=re.S)[0]
    module = types.ModuleType("coprolib_example")
    sys.modules[module.__name__] = module  # as if installed: type hints resolve through it
    exec(compile(adapter_block, "adapter_tutorial.md", "exec"), module.__dict__)
    return module


tutorial = _tutorial_module()


class FakeRemote:
    def __init__(self) -> None:
        self.records: dict[str, Any] = {}

    def app(self, request: Request) -> Reply:
        key = unquote(urlsplit(request.path).path.rsplit("/", 1)[-1])
        if request.method == "PUT":
            self.records[key] = request.json()
            return Reply.json(200, {"id": key})
        if request.method == "DELETE":
            self.records.pop(key, None)
            return Reply(status=204)
        return Reply.json(200, {"status": "up"})


class TestTutorialAdapter(AdapterConformance):
    @pytest.fixture
    def adapter(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
        monkeypatch.setenv("EXAMPLE_TOKEN", "test-token-123")
        self.remote = FakeRemote()
        with FaultServer(self.remote.app) as server:
            yield tutorial.ExampleAdapter(
                {"url": server.url, "token": "$env:EXAMPLE_TOKEN"}, destination="test"
            )

    def remote_keys(self, adapter: Any) -> list[str]:
        return list(self.remote.records)

    def http_adapter(self, base_url: str, *, read_timeout: float) -> Any:
        return tutorial.ExampleAdapter(
            {
                "url": base_url,
                "token": Secret("tutorial-test-token"),
                "http": {"read_timeout": read_timeout},
            },
            destination="test",
        )


def test_the_tutorial_registers_its_adapter() -> None:
    registered: list[tuple[str, type]] = []
    tutorial.register_adapters(lambda name, cls: registered.append((name, cls)))
    assert registered == [("example", tutorial.ExampleAdapter)]
