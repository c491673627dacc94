"""dspy-tui: run and watch DSPy prompt optimization for several LLMs at once."""

__version__ = "0.1.0"  # the one place the version is written (pyproject reads it)
