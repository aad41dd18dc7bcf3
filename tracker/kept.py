"""What a process builds once and reuses, by key: statements, fixed markup."""

from collections.abc import Callable, Hashable


class Kept:
    """Values by key, each built on first use and kept for the process: at most ``size``,
    then started over, so a key space that keeps growing (a day passing, fields typed) costs
    no more memory. Only for a value that is a pure function of its key (a statement holding
    the filters' values, markup written from the key's own data), never rows read: what one
    server keeps cannot go stale against another's writes."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._values: dict = {}

    def get(self, key: Hashable, build: Callable[[], object]):
        value = self._values.get(key)
        if value is None:
            if len(self._values) >= self.size:
                self._values.clear()
            value = self._values[key] = build()
        return value

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        self._values.clear()
