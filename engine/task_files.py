"""Dataset files (JSONL, JSON, CSV, TSV) read into Examples, and the train/dev/test split.

Anything a user can get wrong in a file ends in one TaskError sentence naming the file,
the line and the reason; every reader runs in linear time.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dspy

from .task_errors import TaskError


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TaskError(f"{path}: file not found") from None
    except OSError as exc:
        raise TaskError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TaskError(
            f"{path}: line {line}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
        ) from None
    if not text.strip():
        raise TaskError(f"{path}: the file is empty")
    return text


def _loads(path: Path, text: str, kind: type, what: str, line: int | None = None) -> Any:
    """`text` decoded, a `kind`, or the one-sentence TaskError naming its line (`line` for one
    line of a JSONL file, else where the decoder stopped, or line 1)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskError(
            f"{path}: line {line or exc.lineno}: bad JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(value, kind):
        raise TaskError(f"{path}: line {line or 1}: expected {what}, got {type(value).__name__}")
    return value


def _read_jsonl(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        rows.append((number, _loads(path, line, dict, "a JSON object", number)))
    return rows


def _read_json(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    """A JSON array of objects; each row keeps the line its object starts on."""
    decoder = json.JSONDecoder()
    value = _loads(path, text, list, "a JSON array of objects")
    rows = []
    pos = text.index("[") + 1
    line, counted = 1, 0  # newlines are counted once each, so a large file loads in linear time
    for item in value:
        while text[pos] in " \t\r\n,":
            pos += 1
        line += text.count("\n", counted, pos)
        counted = pos
        _, pos = decoder.raw_decode(text, pos)
        if not isinstance(item, dict):
            raise TaskError(f"{path}: line {line}: expected a JSON object, got {type(item).__name__}")
        rows.append((line, item))
    return rows


def _read_csv(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    reader = csv.reader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise TaskError(f"{path}: line 1: bad CSV ({exc})") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise TaskError(f"{path}: line 1: the header row is empty")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise TaskError(f"{path}: line 1: duplicate column(s) {', '.join(duplicates)}")
    rows = []
    start = reader.line_num
    try:
        for cells in reader:
            line, start = start + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise TaskError(f"{path}: line {line}: {len(cells)} values for {len(header)} columns")
            rows.append((line, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise TaskError(f"{path}: line {reader.line_num}: bad CSV ({exc})") from None
    return rows


_READERS = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".json": _read_json,
    ".csv": _read_csv,
    ".tsv": _read_csv,
}


def load_examples(
    path: str | Path, inputs: Sequence[str], outputs: Sequence[str], columns: dict[str, str] | None = None
) -> list[dspy.Example]:
    """Read one dataset file into Examples with `inputs` set; `columns` renames column -> field."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise TaskError(
            f"{path}: unknown file type {path.suffix or '(none)'}; use .jsonl, .json, .csv or .tsv"
        )
    rows = reader(path, _decode(path))
    if not rows:
        raise TaskError(f"{path}: the file has no rows")
    columns = columns or {}
    wanted = [*inputs, *outputs]
    examples = []
    for line, row in rows:
        record = {columns.get(k, k): v for k, v in row.items()}
        for problem, names in (
            ("missing column", [n for n in wanted if n not in record]),
            ("empty (null) value in column", [n for n in wanted if n in record and record[n] is None]),
        ):
            if names:
                raise TaskError(f"{path}: line {line}: {problem} {_column_names(names, columns)}")
        examples.append(dspy.Example(**{name: record[name] for name in wanted}).with_inputs(*inputs))
    return examples


def _column_names(fields: Sequence[str], columns: dict[str, str]) -> str:
    """Name fields the way the file does: the mapped column, and the field it feeds."""
    column_of = {field: column for column, field in columns.items()}
    return ", ".join(
        f"{column_of.get(f, f)!r}" + (f" (for field {f!r})" if f in column_of else "") for f in fields
    )


def split_examples(
    examples: Sequence[dspy.Example], shares: tuple[float, float, float], seed: int
) -> tuple[list[dspy.Example], list[dspy.Example], list[dspy.Example]]:
    """Shuffle with `seed` and cut into train/dev/test; every split with a share gets at least one example."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    sizes = _split_sizes(len(order), shares)
    if sizes is None:
        need = next(n for n in range(1, 100_000) if _split_sizes(n, shares) is not None)
        raise TaskError(
            f"dataset too small for the chosen splits: {len(order)} example(s) cannot fill train/dev/test at "
            f"{'/'.join(f'{s:g}' for s in shares)}; it needs at least {need} examples, or change the splits"
        )
    n_train, n_dev, _ = sizes
    return order[:n_train], order[n_train : n_train + n_dev], order[n_train + n_dev :]


def _split_sizes(n: int, shares: tuple[float, float, float]) -> tuple[int, int, int] | None:
    """Split sizes for `n` examples, or None when train, dev or a test with a share would be empty."""
    n_train, n_dev = round(shares[0] * n), round(shares[1] * n)
    n_test = n - n_train - n_dev
    if n_train < 1 or n_dev < 1 or n_test < 0 or (shares[2] > 0 and n_test < 1):
        return None
    return n_train, n_dev, n_test
