from dspy_tui.tui.cli import main

raise SystemExit(main())
