"""Headless engine: providers, the DSPy bridge, sessions. Never imports Textual.

DSPy's optimizers draw tqdm bars and log to the console; inside the TUI that
would scribble over the screen and headless it buries our own progress. tqdm
reads TQDM_DISABLE when it is first imported, so it is set here, before any
engine module imports DSPy; `quiet_dspy()` sends DSPy's logs to our log file.

DSPy (and LiteLLM) would also fetch a model price map from the internet on
first use; dspy-tui talks to no host but the providers the user configured,
so the bundled snapshot is forced (we price calls ourselves anyway).
"""

import logging
import os
import threading
import weakref

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")


_DSPY_IMPORT = threading.Lock()


def import_dspy() -> None:
    """Import DSPy now, one thread at a time; call it first in a thread that may be the first to use it.

    DSPy's modules import each other in cycles (dspy.dsp.utils.settings and dspy.utils.callback,
    dspy.clients.engines and dspy.clients.errors). Entered by two threads at once, a cycle meets
    Python's per-module import locks: one thread gets `_DeadlockError`, another a half-built module
    ("cannot import name 'BaseCallback' from partially initialized module", "module 'dspy' has no
    attribute 'settings'"). The new-session form's three workers (choices, estimate, field checks)
    all start by importing it: 4 of 8 fresh processes failed so, and the form said "No estimate" or
    "Cannot list models" under a DSPy error. The service's methods that reach DSPy take it too, so
    two of a front end's threads (a report and an export, say) never import it at once.
    """
    with _DSPY_IMPORT:
        import dspy  # noqa: F401 - once imported, a dict lookup


class _SharedBars(weakref.WeakSet):  # type: ignore[type-arg]
    """tqdm's registry of bars, safe for DSPy's habit of clearing it.

    DSPy's Evaluate and ParallelExecutor call `tqdm.tqdm._instances.clear()` when they
    start. With models optimizing in parallel threads, that clear lands between tqdm
    adding a new bar and removing it again (disabled bars do that at once), and the
    other model fails with `KeyError: <weakref ... to 'tqdm'>`. Clearing under tqdm's
    lock and a remove that tolerates a cleared bar make the race harmless.
    """

    def remove(self, item: object) -> None:
        self.discard(item)

    def clear(self) -> None:
        import tqdm

        with tqdm.tqdm.get_lock():
            super().clear()


def quiet_dspy() -> None:
    """Route DSPy's console logging into the root logger (our rotating log file)."""
    import tqdm

    if not isinstance(tqdm.tqdm._instances, _SharedBars):
        tqdm.tqdm._instances = _SharedBars(tqdm.tqdm._instances)
    logger = logging.getLogger("dspy")
    for handler in list(logger.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            logger.removeHandler(handler)
    logger.propagate = True
