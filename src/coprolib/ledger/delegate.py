"""Typed delegation: a :class:`~coprolib.ledger.Ledger` method that is one of its stores'."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

P = ParamSpec("P")
R = TypeVar("R")


class Via(Generic[P, R]):
    """``name = Via("outbox", OutboxStore.name)`` in a class body: ``obj.name(...)`` calls
    ``obj.outbox.name(...)``, with the store method's signature and docstring. The bound method
    is kept on the instance after the first look-up, so later calls cost nothing extra."""

    def __init__(self, store: str, method: Callable[Concatenate[Any, P], R]) -> None:
        #: The attribute of the instance that holds the store.
        self.store = store
        self._name = method.__name__
        self.__doc__ = method.__doc__
        self.__wrapped__ = method

    def __set_name__(self, owner: type, name: str) -> None:
        self._attr = name

    @overload
    def __get__(self, obj: None, owner: type) -> Via[P, R]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> Callable[P, R]: ...
    def __get__(self, obj: object | None, owner: type) -> Via[P, R] | Callable[P, R]:
        if obj is None:
            return self
        bound: Callable[P, R] = getattr(getattr(obj, self.store), self._name)
        obj.__dict__[self._attr] = bound
        return bound
