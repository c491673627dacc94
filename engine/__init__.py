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

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_TELEMETRY", "False")


def quiet_dspy() -> None:
    """Route DSPy's console logging into the root logger (our rotating log file)."""
    logger = logging.getLogger("dspy")
    for handler in list(logger.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            logger.removeHandler(handler)
    logger.propagate = True
