"""Bad input corpus: hundreds of malformed configs, datasets, signatures and arguments, each a clear exit 2.

Most inputs run in-process through `dspy_tui.cli.main.main` (fast); a handful run
as real processes. Each must end with exit code 2 and one clear sentence on
stderr (ours: one line starting `dspy-tui: `; argparse's: its usage and one
`error:` line), never a traceback; and the database, which holds a finished
session, must keep every row of every table unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from dspy_tui.cli.main import main
from dspy_tui.engine.config import parse_config
from dspy_tui.storage.sessions import SessionStore

from reliability.support import session_in_home, table_digest

NOISE = ("Traceback", "validation error for", "For further information visit", "input_value=", "pydantic")

BASE_TOP = 'name = "bad"\nrounds = 1\n'
BASE_TASK = '[task]\ndataset = "demo:sentiment"\nmax_train = 8\nmax_dev = 6\nmax_test = 6\n'
BASE_MODEL = '[[models]]\nid = "offline/small"\n'


@dataclass
class Case:
    label: str
    argv: list[str]
    stdin: str = ""


@dataclass
class Verdict:
    case: Case
    code: object
    err: str
    clear: bool
    traceback: bool


def _toml(top: str = BASE_TOP, task: str = BASE_TASK, models: str = BASE_MODEL) -> str:
    return top + task + models


def _config_cases() -> list[tuple[str, str | bytes]]:
    """(label, file content) of configs that must be refused."""
    cases: list[tuple[str, str | bytes]] = []
    top_bad = {
        "name": ["1", "[]", "{ a = 1 }", "true"],
        "rounds": ["0", "16", "-1", '"three"', "1.5", "[]", "1e9"],
        "optimizer": ['"nope"', "1", '""', '["bootstrap"]'],
        "budget_usd": ["-1", "0", '"ten"', "-0.5", "nan", "inf", "-inf", "[1]"],
        "concurrency": ["0", "65", '"eight"', "-3", "8.5"],
        "seed": ['"abc"', "1.5", "[1]", "{}"],
        "num_retries": ["-1", "11", '"x"'],
        "cross_model": ["5", "[]", '"maybe"'],
        "base_urls": ['"x"', "[1]", "{ groq = 5 }"],
        "timeouts": ["{ total_s = 0 }", "{ total_s = -1 }", "{ nope = 1 }", '"x"', '{ connect_s = "soon" }'],
        "hooks": ['{ nope = "echo hi" }', '"x"', "{ session_started = 5 }"],
        "hook_timeout_s": ["0", "-1", '"x"'],
        "convergence": [
            "{ patience = 0 }",
            "{ min_delta = 2 }",
            "{ target = 0 }",
            "{ target = 1.5 }",
            "{ bogus = 1 }",
            "5",
            "{ patience = 16 }",
        ],
        "optimizer_settings": ['"x"', "5", "[1, 2]"],
        "foo": ["1"],
        "Rounds": ["2"],
        "budget": ["1"],
        "model": ['"offline/small"'],
        "tasks": ["{}"],
    }
    for key, values in top_bad.items():
        for value in values:
            top = {"name": '"bad"', "rounds": "1", key: value}
            cases.append(
                (f"config {key} = {value}", _toml(top="".join(f"{k} = {v}\n" for k, v in top.items())))
            )
    models_bad = [
        "models = []",
        'models = "offline/small"',
        "models = [1]",
        'models = ["nonslash"]',
        'models = ["/x"]',
        'models = ["offline/"]',
        'models = ["nope/model"]',
        'models = ["offline/huge"]',
        'models = ["offline/small", "offline/small"]',
        'models = [""]',
        "models = [{}]",
        "models = [{ id = 5 }]",
        'models = [{ id = "offline/small", price = { input = -1, output = 1 } }]',
        'models = [{ id = "offline/small", price = { input = 1 } }]',
        'models = [{ id = "offline/small", price = "free" }]',
        'models = [{ id = "offline/small", limits = { rpm = 0 } }]',
        'models = [{ id = "offline/small", limits = { concurrency = 1000 } }]',
        'models = [{ id = "offline/small", limits = { bogus = 1 } }]',
        'models = [{ id = "offline/small", max_tokens = 0 }]',
        'models = [{ id = "offline/small", max_tokens = 300000 }]',
        'models = [{ id = "offline/small", budget_usd = -1 }]',
        'models = [{ id = "offline/small", bogus = 1 }]',
        'models = [{ id = "offline/small", base_url = 5 }]',
        'models = ["openai/gpt-4o"]',
        'models = ["openai/gpt-99-unknown"]',
        'models = ["anthropic/claude-x"]',
        'models = ["gemini/gemini-nope"]',
        'models = ["together/x"]',
        'models = ["openai-compatible/x"]',
    ]
    for line in models_bad:
        cases.append((f"config {line}", BASE_TOP + line + "\n" + BASE_TASK))
    # priced-ness and base URLs need a key present (GROQ_API_KEY is set for these)
    cases += [
        (
            "config budget with an unpriced groq model",
            BASE_TOP + "budget_usd = 1.0\n" + BASE_TASK + '[[models]]\nid = "groq/unknown-model-x"\n',
        ),
        (
            "config groq base URL not http",
            BASE_TOP
            + 'base_urls = { groq = "not-a-url" }\n'
            + BASE_TASK
            + '[[models]]\nid = "groq/llama-3.3-70b-versatile"\n',
        ),
        (
            "config model base URL ftp",
            BASE_TOP
            + BASE_TASK
            + '[[models]]\nid = "groq/llama-3.3-70b-versatile"\nbase_url = "ftp://example"\n',
        ),
        (
            "config per-model budget, unpriced",
            BASE_TOP + BASE_TASK + '[[models]]\nid = "groq/unknown-model-y"\nbudget_usd = 0.5\n',
        ),
    ]
    task_bad = [
        "",
        'task = "demo:sentiment"\n',
        "[task]\n",
        '[task]\ndataset = "demo:nope"\n',
        '[task]\ndataset = "demo:sentiment"\nsignature = "a -> b"\n',
        '[task]\ndataset = "demo:sentiment"\nsize = 0\n',
        '[task]\ndataset = "demo:sentiment"\nsize = 1\n',
        '[task]\ndataset = "demo:sentiment"\nsize = 2\n',
        '[task]\ndataset = "demo:sentiment"\nsplit = { train = 0.9, dev = 0.5, test = 0.1 }\n',
        '[task]\ndataset = "demo:sentiment"\nsplit = { train = 0, dev = 0.5, test = 0.5 }\n',
        '[task]\ndataset = "demo:sentiment"\nsplit = { train = 0.5, dev = 0.5, test = 0.5, x = 1 }\n',
        '[task]\ndataset = "demo:sentiment"\nmax_train = 0\n',
        '[task]\ndataset = "demo:sentiment"\nmax_dev = -1\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "nope"\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "nonexistent_module_xyz:fn"\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "os:sep"\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "os.path:nope"\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "regex"\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "exact_match"\nmetric_options = { bogus = 1 }\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "exact_match"\nmetric_options = { field = "nope" }\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "numeric"\nmetric_options = { tolerance = -1 }\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "llm_judge"\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "llm_judge"\nmetric_options = { model = "offline/small", x = 1 }\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "llm_judge"\nmetric_options = { model = 5 }\n',
        '[task]\ndataset = "demo:sentiment"\nmetric = "llm_judge"\nmetric_options = { model = "offline/small", rubric = "x" }\n',
        '[task]\ndataset = "demo:sentiment"\njudge = { rubric = "x" }\n',
        '[task]\ndataset = "demo:sentiment"\njudge = { model = "nope/x" }\n',
        '[task]\ndataset = "demo:sentiment"\nmodule = "react"\n',
        '[task]\ndataset = "demo:sentiment"\nfields = "x"\n',
        '[task]\ndataset = "demo:sentiment"\ndescriptions = { nope = "x" }\n',
        '[task]\ndataset = "demo:sentiment"\nseed = "x"\n',
        '[task]\ndataset = "demo:sentiment"\nbogus = 1\n',
        "[task]\ndataset = 5\n",
        '[task]\ndataset = ["demo:sentiment"]\n',
        '[task]\ntrain_file = "nope.jsonl"\nsignature = "question -> answer"\n',
    ]
    for task in task_bad:
        cases.append((f"config task {task.strip()[:60]!r}", _toml(task=task)))
    toml_bad = [
        "name = \n",
        "[task\n",
        'name = "unterminated\n',
        "rounds = 1\nrounds = 2\n" + BASE_TASK + BASE_MODEL,
        BASE_TOP + BASE_TASK + BASE_MODEL + "[models]\n",
        "rounds = 1 2\n",
        "= 5\n",
        "a.b = 1\na = 2\n",
        'name = "bad \\q escape"\n',
        "when = 2024-13-45\n",
        BASE_TOP + BASE_TASK + BASE_TASK + BASE_MODEL,
        "name = 'x'\x00\n",
        "[[models]\nid = 'x'\n",
        '{"name": "json, not toml"}\n',
        "name: yaml\ntask:\n  dataset: demo:sentiment\n",
        "x" * 50_000 + "\n",
        "[task]]\n",
        "rounds = +\n",
        "rounds = 0x\n",
        'name = "a"\n[name]\n',
    ]
    for i, content in enumerate(toml_bad):
        cases.append((f"bad TOML #{i}", content))
    cases += _bound_cases()
    cases += [
        ("empty file", ""),
        ("whitespace only", " \n\t\n"),
        ("comments only", "# nothing\n"),
        ("binary file", bytes(range(256)) * 4),
        ("PNG file", b"\x89PNG\r\n\x1a\n" + bytes(200)),
        ("UTF-16 file", _toml().encode("utf-16")),
        ("latin-1 file", ('name = "caf\xe9"\n' + BASE_TASK).encode("latin-1")),
    ]
    return cases


HUGE = ["1e308", "1e309", "-1e308", "inf", "-inf", "nan", str(2**63), str(2**64), str(-(2**63) - 1), "1e10"]


def _bound_cases() -> list[tuple[str, str]]:
    """Every numeric setting at the edge of (or beyond) what the engine, SQLite and the OS timers hold."""
    cases: list[tuple[str, str]] = []
    top = [
        "budget_usd",
        "seed",
        "rounds",
        "concurrency",
        "num_retries",
        "hook_timeout_s",
        "retry_after_cap_s",
        "min_answer_tokens",
        "degraded_threshold",
    ]
    for key in top:
        for value in HUGE:
            if key == "seed" and value == "1e10":
                continue  # a whole number: a valid seed
            cases.append(
                (
                    f"bound {key} = {value}",
                    _toml(
                        top=f'name = "bad"\nrounds = 1\n{key} = {value}\n'
                        if key != "rounds"
                        else f'name = "bad"\nrounds = {value}\n'
                    ),
                )
            )
    tables = {
        "timeouts": ["total_s", "connect_s"],
        "convergence": ["patience", "min_delta", "target"],
    }
    for table, keys in tables.items():
        for key in keys:
            for value in HUGE:
                cases.append(
                    (
                        f"bound {table}.{key} = {value}",
                        _toml(top=BASE_TOP + f"{table} = {{ {key} = {value} }}\n"),
                    )
                )
    for key in ("max_train", "max_dev", "max_test", "size", "seed"):
        for value in HUGE if key != "seed" else [v for v in HUGE if v != "1e10"]:
            task = f'[task]\ndataset = "demo:sentiment"\n{key} = {value}\n'
            cases.append((f"bound task.{key} = {value}", _toml(task=task)))
    for key in ("max_tokens", "budget_usd", "temperature"):
        for value in HUGE:
            cases.append(
                (
                    f"bound models.{key} = {value}",
                    _toml(models=f'[[models]]\nid = "offline/small"\n{key} = {value}\n'),
                )
            )
    for key in ("input", "output"):
        for value in ("1e308", "inf", "nan", "-1", "1e6"):
            other = "output" if key == "input" else "input"
            models = f'[[models]]\nid = "offline/small"\nprice = {{ {key} = {value}, {other} = 1 }}\n'
            cases.append((f"bound price.{key} = {value}", _toml(models=models)))
    for key in ("rpm", "tpm", "concurrency"):
        for value in ("1e308", str(2**63), str(2**64), "-1"):
            models = f'[[models]]\nid = "offline/small"\nlimits = {{ {key} = {value} }}\n'
            cases.append((f"bound limits.{key} = {value}", _toml(models=models)))
    return cases


def _dataset_cases() -> list[tuple[str, str, str | bytes]]:
    """(label, file name, content) of dataset files that must be refused (signature question -> answer)."""
    good = [{"question": f"q{i}", "answer": f"a{i}"} for i in range(12)]
    jsonl = "\n".join(json.dumps(r) for r in good) + "\n"
    return [
        (
            "jsonl latin-1",
            "latin.jsonl",
            jsonl.encode() + '{"question": "caf\xe9", "answer": "x"}\n'.encode("latin-1"),
        ),
        ("jsonl UTF-16", "utf16.jsonl", jsonl.encode("utf-16")),
        ("jsonl empty", "empty.jsonl", ""),
        ("jsonl blank lines", "blank.jsonl", "\n\n  \n"),
        ("jsonl BOM only", "bom.jsonl", "\ufeff"),
        (
            "jsonl missing column",
            "missing.jsonl",
            "\n".join(json.dumps({"question": r["question"]}) for r in good),
        ),
        ("jsonl one row missing a column", "onemissing.jsonl", jsonl + json.dumps({"question": "x"}) + "\n"),
        ("jsonl null value", "null.jsonl", jsonl + json.dumps({"question": None, "answer": "x"}) + "\n"),
        ("jsonl bad JSON line", "badline.jsonl", jsonl + '{"question": "x", "answer": \n'),
        ("jsonl huge bad line", "huge.jsonl", jsonl + '{"question": "' + "x" * 2_000_000 + "\n"),
        (
            "jsonl huge line without answer",
            "hugemissing.jsonl",
            jsonl + json.dumps({"question": "y" * 1_000_000}) + "\n",
        ),
        ("jsonl array line", "array.jsonl", jsonl + "[1, 2]\n"),
        ("jsonl number line", "number.jsonl", jsonl + "5\n"),
        ("jsonl string line", "string.jsonl", jsonl + '"text"\n'),
        ("jsonl null line", "nullline.jsonl", jsonl + "null\n"),
        ("jsonl mixed types", "mixed.jsonl", '{"question": "q", "answer": "a"}\n[1]\n"s"\n3\n'),
        ("jsonl binary", "binary.jsonl", bytes(range(256)) * 8),
        ("jsonl NUL bytes", "nul.jsonl", b'{"question": "a\x00", "answer": "b"}\n' * 3),
        ("jsonl too small for splits", "tiny.jsonl", json.dumps(good[0]) + "\n" + json.dumps(good[1]) + "\n"),
        ("json not a list", "obj.json", json.dumps({"question": "q", "answer": "a"})),
        ("json list of numbers", "nums.json", "[1, 2, 3]"),
        ("json empty list", "emptylist.json", "[]"),
        ("json list with a string", "liststr.json", json.dumps([*good, "oops"])),
        ("json invalid", "invalid.json", '[{"question": "q", "answer": "a"},'),
        ("json trailing garbage", "trailing.json", json.dumps(good) + " extra"),
        ("json nested list", "nested.json", json.dumps([good])),
        ("json missing column", "missing.json", json.dumps([{"question": "q"}] * 10)),
        ("json string", "string.json", '"just a string"'),
        ("json null", "null.json", "null"),
        ("csv ragged long row", "ragged.csv", "question,answer\n" + "q,a\n" * 10 + "q,a,extra\n"),
        ("csv ragged short row", "short.csv", "question,answer\n" + "q,a\n" * 10 + "lonely\n"),
        ("csv missing column", "nocol.csv", "question,other\n" + "q,o\n" * 10),
        ("csv duplicate header", "dup.csv", "question,question,answer\n" + "q,q,a\n" * 10),
        ("csv empty header", "emptyhead.csv", ",\n" + "q,a\n" * 10),
        ("csv header only", "headonly.csv", "question,answer\n"),
        ("csv huge field", "hugefield.csv", 'question,answer\n"' + "x" * 200_000 + '",a\n' + "q,a\n" * 10),
        ("csv unterminated quote", "quote.csv", 'question,answer\n"q,a\n' + "q,a\n" * 10),
        ("csv latin-1", "latin.csv", ("question,answer\n" + "caf\xe9,a\n" * 10).encode("latin-1")),
        ("csv empty", "empty.csv", ""),
        ("tsv ragged", "ragged.tsv", "question\tanswer\n" + "q\ta\n" * 10 + "q\n"),
        ("unknown extension .txt", "data.txt", jsonl),
        ("unknown extension .xlsx", "data.xlsx", b"PK\x03\x04" + bytes(64)),
        ("no extension", "datafile", jsonl),
        ("yaml dataset", "data.yaml", "- question: q\n  answer: a\n"),
    ]


SIGNATURES = [
    "->",
    "a ->",
    "-> b",
    "",
    "   ",
    "a b -> c",
    "a -> b -> c",
    "1a -> b",
    "a-b -> c",
    "a: notatype -> b",
    "a -> b: list[",
    "!!!",
    "a => b",
    "a <- b",
    ",,, -> b",
    "a -> ,",
    "pkg.nonexistent_mod:Sig",
    "os:path",
    "os.path:nope",
    "dspy:Predict",
    "nope.py:Sig",
    "a: -> b",
    "a -> b: dict[str",
    "a -> b c",
    "a ->-> b",
    "(a) -> b",
    "->->",
    "a:int:str -> b",
    "a -> b,,",
    ":",
    "a -> def",
    "class -> b",
    "a -> b: NotAType",
]


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def _cases(d: Path, sid: str) -> list[Case]:
    d.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    for i, (label, content) in enumerate(_config_cases()):
        path = d / f"config{i}.toml"
        _write(path, content)
        cases.append(Case(label, ["run", str(path)]))
        estimable = label.startswith(("bad TOML", "config rounds", "config optimizer", "config task"))
        if estimable and "judge" not in label and i % 2 == 0:
            cases.append(Case(f"estimate: {label}", ["estimate", str(path)]))  # fails before models and keys
    for label, name, content in _dataset_cases():
        data = d / "data" / name
        data.parent.mkdir(exist_ok=True)
        _write(data, content)
        config = d / f"ds-{name}.toml"
        config.write_text(
            BASE_TOP + f'[task]\ndataset = "{data}"\nsignature = "question -> answer"\n' + BASE_MODEL
        )
        cases.append(Case(f"dataset {label}", ["run", str(config)]))
    (d / "data" / "dir.jsonl").mkdir(exist_ok=True)
    for label, dataset in (
        ("dataset is a directory", d / "data" / "dir.jsonl"),
        ("dataset does not exist", d / "data" / "nope.jsonl"),
    ):
        config = d / f"ds-{label.replace(' ', '-')}.toml"
        config.write_text(
            BASE_TOP + f'[task]\ndataset = "{dataset}"\nsignature = "question -> answer"\n' + BASE_MODEL
        )
        cases.append(Case(label, ["run", str(config)]))
    config = d / "ds-split-files.toml"
    config.write_text(
        BASE_TOP
        + f'[task]\ntrain_file = "{d / "data" / "mixed.jsonl"}"\nsignature = "question -> answer"\n'
        + BASE_MODEL
    )
    cases.append(Case("train_file without dev_file", ["run", str(config)]))
    abc = d / "data" / "abc.jsonl"
    abc.write_text(
        "\n".join(
            json.dumps({"a": f"x{i}", "b": f"y{i}", "c": f"z{i}", "question": "q", "answer": "a"})
            for i in range(20)
        )
        + "\n"
    )
    for i, sig in enumerate(SIGNATURES):
        config = d / f"sig{i}.toml"
        config.write_text(
            BASE_TOP + f'[task]\ndataset = "{abc}"\nsignature = {json.dumps(sig)}\n' + BASE_MODEL
        )
        cases.append(Case(f"signature {sig!r}", ["run", str(config)]))
    cfg = str(d / "config0.toml")
    task = ["--task", "demo:sentiment"]
    is_file = d / "a-file.txt"
    is_file.write_text("x")
    cases += [
        Case(f"args {' '.join(a)}", a)
        for a in [
            ["nope"],
            ["run"],
            ["run", "--task"],
            ["run", "--rounds", "x", *task],
            ["run", "--rounds", "0", *task],
            ["run", "--rounds", "99", *task],
            ["run", "--budget", "-1", *task],
            ["run", "--budget", "abc", *task],
            ["run", "--budget", "nan", *task],
            ["run", "--budget", "inf", *task],
            ["run", "--budget", "0", *task],
            ["run", "--seed", "1.5", *task],
            ["run", "--models", ",,,", *task],
            ["run", "--models", "foo", *task],
            ["run", "--models", "offline/nope", *task],
            ["run", "--models", "offline/small,offline/small", *task],
            ["run", "--task", "nonexistent"],
            ["run", "--task", "demo:nope"],
            ["run", "--optimizer", "nope", *task],
            ["run", cfg, *task],
            ["run", *task, "--bogus"],
            ["run", str(d / "nope.toml")],
            ["run", str(d)],
            ["run", "--task", ""],
            ["run", "--models", "openai/gpt-4o", *task],
            ["run", "--budget", "1", "--models", "groq/unknown-z", *task],
            ["sessions"],
            ["sessions", "show"],
            ["sessions", "show", "nope"],
            ["sessions", "delete", "nope"],
            ["sessions", "show", ""],
            ["sessions", "nope"],
            ["sessions", "list", "extra"],
            ["resume", "nope"],
            ["resume", sid],
            ["resume"],
            ["resume", ""],
            ["report", "nope"],
            ["report", sid, "--format", "pdf"],
            ["report", sid, "--format"],
            ["report", sid, "-o", str(d / "no-such-dir" / "r.md")],
            ["report", sid, "-o", str(d)],
            ["report", sid, "-o", str(is_file / "r.md")],
            ["export", sid],
            ["export", sid, "--model", "nope", "-o", str(d / "x.json")],
            ["export", "nope", "--model", "offline/small", "-o", str(d / "x.json")],
            ["export", sid, "--model", "offline/small", "-o", str(is_file / "x.json")],
            ["export", sid, "--model", "offline/small", "-o", str(d)],
            ["export", sid, "--model", "offline/small"],
            ["keys", "set", "nope"],
            ["keys", "delete", "nope"],
            ["keys"],
            ["keys", "set"],
            ["keys", "nope"],
            ["estimate"],
            ["estimate", str(d / "nope.toml")],
            ["estimate", str(d)],
            ["tasks", "--bogus"],
            ["models", "extra"],
            ["--bogus"],
            ["-v", "nope"],
            ["doctor", "--jsn"],
            *(
                ["run", flag, value, *task]
                for flag in ("--budget", "--seed", "--rounds")
                for value in (
                    "1e308",
                    "1e309",
                    "-1e308",
                    str(2**63),
                    str(2**64),
                    str(-(2**63) - 1),
                    "1e10",
                    "-inf",
                )
            ),
        ]
    ]
    return cases


def _judge(case: Case, code: object, out: str, err: str) -> Verdict:
    lines = [line for line in err.splitlines() if line.strip()]
    ours = len(lines) == 1 and lines[0].startswith("dspy-tui: ")
    argparse_style = bool(lines) and lines[0].startswith("usage: ") and ": error: " in lines[-1]
    sentence = lines[-1] if lines else ""
    clear = (
        code == 2 and (ours or argparse_style) and len(sentence) <= 600 and not any(n in err for n in NOISE)
    )
    return Verdict(case, code, err, clear, "Traceback" in err or "Traceback" in out)


def _in_process(case: Case, capsys: pytest.CaptureFixture[str]) -> Verdict:
    try:
        code: object = main(case.argv)
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # noqa: BLE001 - an escaped exception is what this test hunts
        code = "exception"
        sys.stderr.write(traceback.format_exc())
    captured = capsys.readouterr()
    return _judge(case, code, captured.out, captured.err)


def _subprocess(case: Case, env: dict[str, str]) -> Verdict:
    out = subprocess.run(
        [sys.executable, "-m", "dspy_tui", *case.argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        input=case.stdin,
    )
    return _judge(case, out.returncode, out.stdout, out.stderr)


@pytest.fixture
def finished_session(dspy_tui_home: Path) -> str:
    config = parse_config(
        {
            "name": "keep me",
            "rounds": 1,
            "models": ["offline/small"],
            "cross_model": False,
            "task": {"dataset": "demo:sentiment", "max_train": 8, "max_dev": 6, "max_test": 6},
        }
    )
    session = session_in_home(config)
    session.prepare()
    assert session.run() == "completed"
    return session.session_id


def test_five_hundred_bad_inputs_each_end_in_one_sentence_and_exit_2(
    tmp_path: Path,
    dspy_tui_home: Path,
    finished_session: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = dspy_tui_home / "dspy-tui.db"
    monkeypatch.setenv("GROQ_API_KEY", "gsk_bad_input_corpus_key_0000")
    before = table_digest(db)
    capsys.readouterr()
    verdicts: list[Verdict] = []
    touched: list[str] = []
    cases = _cases(tmp_path / "corpus", finished_session)
    for case in cases:
        verdicts.append(_in_process(case, capsys))
        if table_digest(db) != before:
            touched.append(case.label)
            before = table_digest(db)

    # a handful as real processes, including what only a process can get wrong
    env = {**os.environ, "DSPY_TUI_HOME": str(dspy_tui_home)}
    home_is_file = tmp_path / "home-file"
    home_is_file.write_text("not a directory")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    real = [
        (Case("process: binary config", ["run", str(binary)]), env),
        (Case("process: argparse error", ["run", "--rounds", "x"]), env),
        (Case("process: unknown session", ["resume", "nope"]), env),
        (Case("process: bad dataset", ["run", str(tmp_path / "corpus" / "ds-mixed.jsonl.toml")]), env),
        (Case("process: bad signature", ["run", str(tmp_path / "corpus" / "sig0.toml")]), env),
        (
            Case("process: empty key on stdin", ["keys", "set", "openai"], stdin="\n"),
            {
                **env,
                "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                "XDG_DATA_HOME": str(tmp_path / "xdg"),
            },
        ),
        (
            Case("process: DSPY_TUI_HOME is a file", ["sessions", "list"]),
            {**env, "DSPY_TUI_HOME": str(home_is_file)},
        ),
        (
            Case("process: garbage database", ["sessions", "list"]),
            {**env, "DSPY_TUI_HOME": str(_garbage_home(tmp_path))},
        ),
    ]
    for case, case_env in real:
        verdicts.append(_subprocess(case, case_env))
    if table_digest(db) != before:
        touched.append("(after the real processes)")

    unclear = [v for v in verdicts if not v.clear]
    tracebacks = [v for v in verdicts if v.traceback]
    print(
        f"\nbad inputs: inputs tried {len(verdicts)}, clear errors {len(verdicts) - len(unclear)}, "
        f"tracebacks {len(tracebacks)}, database touched by {len(touched)}"
    )
    assert len(verdicts) >= 500
    assert not tracebacks, "\n\n".join(f"{v.case.label}: {v.err[-800:]}" for v in tracebacks)
    assert not unclear, "\n".join(
        f"{v.case.label} -> exit {v.code}: {v.err.strip()[-300:]!r}" for v in unclear
    )
    assert not touched, touched
    assert SessionStore(db).list_sessions()[0].id == finished_session


def _garbage_home(tmp_path: Path) -> Path:
    home = tmp_path / "garbage-home"
    home.mkdir()
    (home / "dspy-tui.db").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    return home
