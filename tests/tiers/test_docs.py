"""The examples in docs/TIERS.md are real: each ``$ assistant ...`` block prints what the doc shows."""

from __future__ import annotations

import re
import shlex

import pytest

from ..conftest import ROOT, run_cli

DOC = ROOT / "docs" / "TIERS.md"
BLOCK = re.compile(r"```console\n\$ assistant (?P<args>[^\n]+)\n(?P<out>.*?)\n```", re.S)
MACHINE_DEPENDENT = ("  free disk",)


def examples() -> list[tuple[str, str]]:
    return [(m["args"], m["out"]) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def comparable(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines() if not line.startswith(MACHINE_DEPENDENT)]


def test_doc_has_examples_of_both_commands():
    commands = [args.split()[0] for args, _ in examples()]
    assert commands.count("tiers") >= 3 and commands.count("hardware") >= 2


@pytest.mark.parametrize(("args", "expected"), examples(), ids=[a for a, _ in examples()])
def test_doc_example(args, expected):
    result = run_cli(*shlex.split(args))
    assert result.returncode == 0, result.stderr
    assert comparable(result.stdout) == comparable(expected)
