"""dspy-tui: run and watch DSPy prompt optimization for several LLMs at once."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dspy-tui")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
