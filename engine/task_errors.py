"""The one error of task loading, in a module of its own so every task module can raise it."""

from __future__ import annotations


class TaskError(ValueError):
    """A task, dataset or metric the user described cannot be used; the message says why."""
