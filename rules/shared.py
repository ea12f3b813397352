"""Read-only dicts and lists: the parts of explanations that many decisions share, safe to hand out."""

from __future__ import annotations

from typing import Any, NoReturn, SupportsIndex


def _refuse(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"{type(self).__name__} is shared between explanations and cannot be changed")


class SharedDict(dict[str, Any]):
    """A dict that refuses changes; equal to, and written out as JSON like, a plain dict."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        # Pickled and copied as a plain dict: the copy is nobody else's.
        return dict, (dict(self),)

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        from copy import deepcopy

        return {k: deepcopy(v, memo) for k, v in self.items()}


class SharedList(list[Any]):
    """A list that refuses changes; equal to, and written out as JSON like, a plain list."""

    __slots__ = ()
    __setitem__ = __delitem__ = append = extend = insert = remove = clear = sort = reverse = _refuse
    __iadd__ = __imul__ = _refuse

    def pop(self, index: SupportsIndex = -1) -> NoReturn:
        _refuse(self)

    def __reduce__(self) -> tuple[type[list[Any]], tuple[list[Any]]]:
        return list, (list(self),)

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        from copy import deepcopy

        return [deepcopy(v, memo) for v in self]


def freeze(value: Any) -> Any:
    """`value` with every dict and list inside it made read-only (other values are kept as they are)."""
    if type(value) is SharedDict or type(value) is SharedList:
        return value
    if isinstance(value, dict):
        return SharedDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return SharedList(freeze(v) for v in value)
    return value


class SharedEntries:
    """Explanation entries kept for reuse by one section, up to `room` of them in all.

    An entry depends only on the raw facts it shows, so decisions whose facts are equal (a reason,
    a market, a count: values that repeat from case to case) share one read-only entry instead of
    building the same dicts again. `room` bounds the memory a policy can hold this way.
    """

    __slots__ = ("room",)

    def __init__(self, room: int) -> None:
        self.room = room

    def keep(self, kept: dict[Any, Any], key: Any, entry: dict[str, Any]) -> dict[str, Any]:
        """`entry`, from now on shared under `key` in `kept` while there is room."""
        if self.room <= 0:
            return entry
        # Two threads may both keep an entry under one key: they are equal, and the budget is only a bound.
        self.room -= 1
        shared: dict[str, Any] = freeze(entry)
        return kept.setdefault(key, shared)
