"""docs/schema.md's column reference must match the schema the migrations build."""

from __future__ import annotations

import pytest

from dspy_tui.storage import schema_doc


def test_schema_doc_is_current() -> None:
    current = schema_doc.DOC.read_text(encoding="utf-8")
    assert schema_doc.render(current) == current, "run `python -m dspy_tui.storage.schema_doc --write`"


def test_a_new_column_makes_the_doc_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a migration that adds a column changes the generated section."""
    before = schema_doc.generated_section()

    @schema_doc.migrations(name="9999_probe")
    def _probe(db):  # type: ignore[no-untyped-def]
        db["sessions"].add_column("probe_column", str)

    try:
        after = schema_doc.generated_section()
    finally:
        schema_doc.migrations._migrations.pop()
    assert "probe_column" in after and "probe_column" not in before
