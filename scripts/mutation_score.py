"""The mutation score of a finished ``mutmut run``, by file (see scripts/mutation).

A mutant counts when it changes more than a string literal: mutmut's ``"XX...XX"`` and
case changes of str and bytes literals are left out (as issue 19 counts them). Killed and timed-out mutants count as caught;
survivors and mutants no test reaches as missed. Usage: python scripts/mutation_score.py
[--list] [FILE...] from the directory holding ``mutants/`` (Python 3.11+).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import tomllib

_MUTANT = re.compile(r"(?P<function>.+)__mutmut_(?P<which>orig|\d+)\Z")
CAUGHT = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout"}
MISSED = {0: "survived", 5: "no tests", 33: "no tests"}


class _StringsBlanked(ast.NodeTransformer):
    """Every str and bytes literal emptied, so two functions compare without their texts."""

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        return ast.Constant(type(node.value)()) if isinstance(node.value, str | bytes) else node


def _bodies(mutated_source: str) -> dict[str, dict[str, ast.AST]]:
    """mangled function name -> {"orig" | "N": its definition, renamed to compare}."""
    found: dict[str, dict[str, ast.AST]] = {}
    for node in ast.walk(ast.parse(mutated_source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            match = _MUTANT.match(node.name)
            if match:
                node.name = "f"
                found.setdefault(match["function"], {})[match["which"]] = node
    return found


def string_only_mutants(mutated_source: str) -> set[str]:
    """The ``function__mutmut_N`` suffixes whose only change is a string literal."""
    out: set[str] = set()
    for function, versions in _bodies(mutated_source).items():
        orig = ast.dump(_StringsBlanked().visit(versions.pop("orig")))
        for which, node in versions.items():
            if ast.dump(_StringsBlanked().visit(node)) == orig:
                out.add(f"{function}__mutmut_{which}")
    return out


def score_file(source: Path) -> tuple[int, int, list[tuple[str, str]]]:
    """(caught, counted, missed [(mutant, status)]) for one mutated file under mutants/."""
    mutated = Path("mutants") / source
    exit_codes = json.loads(Path(f"{mutated}.meta").read_text("utf-8"))["exit_code_by_key"]
    strings = string_only_mutants(mutated.read_text("utf-8"))
    caught = counted = 0
    missed: list[tuple[str, str]] = []
    for key, code in sorted(exit_codes.items()):
        if key.rsplit(".", 1)[1] in strings:
            continue
        if code is None:
            raise SystemExit(f"{key} was not run: run mutmut over {source} first")
        counted += 1
        if code in CAUGHT:
            caught += 1
        else:
            missed.append((key, MISSED.get(code, f"exit code {code}")))
    return caught, counted, missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--list", action="store_true", help="name every missed mutant")
    parser.add_argument("--configured", action="store_true", help="print the files mutated")
    args = parser.parse_args()
    if args.configured or not args.files:
        configured = tomllib.loads(Path("pyproject.toml").read_text("utf-8"))
        args.files = [Path(f) for f in configured["tool"]["mutmut"]["only_mutate"]]
    if args.configured:
        print(*args.files, sep="\n")
        return 0
    total_caught = total = 0
    for source in args.files:
        caught, counted, missed = score_file(source)
        total_caught += caught
        total += counted
        print(f"{source}: {caught}/{counted} caught ({100 * caught / max(counted, 1):.1f}%)")
        if args.list:
            for key, status in missed:
                print(f"    {status}: {key}")
    print(f"all: {total_caught}/{total} caught ({100 * total_caught / max(total, 1):.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
