"""The `dspy-tui` command line: argument parsing and the headless front ends (no Textual here)."""
