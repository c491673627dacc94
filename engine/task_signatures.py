"""Signatures a user writes ("question -> answer", "pkg.mod:Sig") and the objects they name."""

from __future__ import annotations

import importlib
import importlib.util
import threading
from pathlib import Path
from typing import Any

import dspy

from .task_errors import TaskError

# DSPy reads a signature string with `ast.parse`. CPython 3.11's AST constructor keeps its recursion
# depth per interpreter, not per thread, and a garbage collection's finalizer can switch threads in the
# middle of a parse: two threads parsing at once then fail with "AST constructor recursion depth
# mismatch" (the soak test's 32 sessions preparing at once; the form's estimate and field check).
_PARSE = threading.Lock()


def make_signature(
    text: str, instructions: str | None = None, descriptions: dict[str, str] | None = None
) -> type[dspy.Signature]:
    """A signature from "a, b: int -> c" or from "pkg.module:ClassName" (a dspy.Signature subclass)."""
    text = text.strip()
    if "->" not in text and ":" in text:
        sig = import_object(text, "signature")
        if not (isinstance(sig, type) and issubclass(sig, dspy.Signature)):
            raise TaskError(f"signature {text!r} is not a dspy.Signature subclass")
    else:
        try:
            with _PARSE:
                sig = dspy.Signature(text, instructions) if instructions else dspy.Signature(text)
        except Exception as exc:  # DSPy raises ValueError, SyntaxError, TypeError...
            raise TaskError(f"signature {text!r} cannot be read: {exc}") from exc
    if instructions and "->" not in text:
        sig = sig.with_instructions(instructions)
    for side, fields in (("input", sig.input_fields), ("output", sig.output_fields)):
        if not fields:  # DSPy accepts "a ->" and "-> b"; a session would only fail later
            raise TaskError(
                f"signature {text!r} has no {side} field; write it as 'inputs -> outputs', "
                "e.g. 'question -> answer'"
            )
    for name, desc in (descriptions or {}).items():
        if name not in sig.fields:
            raise TaskError(f"description given for {name!r}, which is not a field of the signature {text!r}")
        sig = sig.with_updated_fields(name, desc=desc)
    signature: type[Any] = sig  # a dspy.Signature class, untyped to mypy
    return signature


def import_object(spec: str, what: str) -> Any:
    """Import `pkg.module:name` or `path/to/file.py:name`, with one clear error for each failure."""
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise TaskError(f"{what} {spec!r} must look like 'package.module:name'")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise TaskError(f"{what} {spec!r}: file {module_name} does not exist")
            loader = importlib.util.spec_from_file_location(path.stem, path)
            if loader is None or loader.loader is None:
                raise TaskError(f"{what} {spec!r}: {module_name} cannot be loaded as Python")
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except TaskError:
        raise
    except Exception as exc:
        raise TaskError(
            f"{what} {spec!r}: importing {module_name} failed ({type(exc).__name__}: {exc})"
        ) from exc
    if not hasattr(module, attr):
        raise TaskError(f"{what} {spec!r}: {module_name} has no attribute {attr!r}")
    return getattr(module, attr)
