from dspy_tui.cli.main import entry

entry()
