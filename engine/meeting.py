"""The one point where a session's models wait for each other: the cross-model trial.

Each model runs its own pipeline (baseline, optimization, benchmark) at its
own pace. Only cross-model learning needs them together, because its
leader (the best dev score) is known once every model still running has
finished optimizing. A model that fails or stops before it arrives leaves,
so nobody waits for a model that will never come.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

M = TypeVar("M")


class Meeting(Generic[M]):
    """Models `arrive` after optimizing; the last one in picks the leader and lets everyone go on."""

    def __init__(self, members: list[M], score: Callable[[M], float]) -> None:
        self._members = list(members)  # config order: it breaks ties between equal scores
        self._waiting_for = set(map(id, members))
        self._arrived: list[M] = []
        self._score = score
        self._leader: M | None = None
        self._open = threading.Condition()

    def leave(self, member: M) -> None:
        """`member` will not arrive (it failed or stopped); a no-op once it has arrived."""
        with self._open:
            self._waiting_for.discard(id(member))
            self._release_if_complete()

    def arrive(self, member: M, stopped: Callable[[], bool], poll_s: float = 0.2) -> M | None:
        """Wait until every member has arrived or left; returns the leader (None if `stopped()`)."""
        with self._open:
            self._arrived.append(member)
            self._waiting_for.discard(id(member))
            self._release_if_complete()
            while self._waiting_for and not stopped():
                self._open.wait(poll_s)
            if self._waiting_for:
                return None
            return self._leader

    def _release_if_complete(self) -> None:
        if not self._waiting_for and self._arrived and self._leader is None:
            arrived = set(map(id, self._arrived))  # not arrival order: a tie must pick the same leader
            self._leader = max((m for m in self._members if id(m) in arrived), key=self._score)
            self._open.notify_all()

    @property
    def arrived(self) -> list[M]:
        with self._open:
            return list(self._arrived)
