"""What the screens may ask of the app: one typed contract instead of `app: Any` and `type: ignore`.

Screens depend on this Protocol, not on `DspyTuiApp` (which imports the home screen, so the
screens cannot import it back). `services(widget)` checks at run time that the app offers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from dspy_tui.tui.runner import SessionRunner
    from dspy_tui.tui.settings import Settings


@runtime_checkable
class AppServices(Protocol):
    """The app's side of the screen <-> app contract."""

    @property
    def session_run(self) -> SessionRunner | None: ...

    @property
    def settings(self) -> Settings: ...

    def open_session(self, session_id: str) -> None: ...

    def compare_sessions(self, session_ids: list[str]) -> None: ...

    def resume_session(self, session_id: str, budget_usd: float | None = None) -> None: ...

    def show_live(self) -> bool: ...

    def start_new(self, config: Any) -> None: ...

    def update_settings(self, settings: Settings) -> None: ...


def services(node: DOMNode) -> AppServices:
    """The app of `node` as the screens' contract (a test app without it is a programming error)."""
    app = node.app
    if not isinstance(app, AppServices):
        raise TypeError(f"{type(app).__name__} does not offer the dspy-tui app services")
    return app
