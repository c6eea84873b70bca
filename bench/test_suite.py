"""How long `make test` takes: the suite's wall time, against a baseline revision run alongside.

    python -m bench.test_suite                      # this tree, 3 runs
    python -m bench.test_suite --baseline 4d38834   # and that revision, alternating with this one
    python -m bench.test_suite --quick              # one run, no baseline

The budget is 90 s wall on two cores with PostgreSQL (docs/BENCHMARKS.md). The baseline is
checked out into a temporary git worktree and run with the same interpreter and environment,
so the ratio holds when the machine's speed drifts; it runs the way its own Makefile ran
tests then (`pytest -q`, plus `-n auto` when its Makefile says so).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 90.0


def _pytest_args(tree: Path) -> list[str]:
    makefile = (tree / "Makefile").read_text(encoding="utf-8")
    line = re.search(r"-m pytest([^\n]*)", makefile)
    return line.group(1).split() if line else ["-q"]


def run_suite(tree: Path) -> tuple[float, str]:
    """One run of the tree's test suite; wall seconds and pytest's closing line."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *_pytest_args(tree), "-p", "no:cacheprovider"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    wall = time.perf_counter() - started
    lines = [row for row in done.stdout.splitlines() if " passed" in row or " failed" in row]
    return wall, (lines[-1].strip("= ") if lines else f"exit {done.returncode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="a git revision to time alongside")
    parser.add_argument("--quick", action="store_true", help="one run, no baseline")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    trees = {"this tree": ROOT}
    with tempfile.TemporaryDirectory() as scratch:
        if args.baseline and not args.quick:
            worktree = Path(scratch) / "baseline"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(worktree), args.baseline],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
            trees[f"baseline {args.baseline}"] = worktree
        try:
            walls: dict[str, list[float]] = {name: [] for name in trees}
            for _ in range(runs):
                for name, tree in trees.items():
                    wall, summary = run_suite(tree)
                    walls[name].append(wall)
                    print(f"{name}: {wall:6.1f} s  ({summary})", flush=True)
        finally:
            if len(trees) > 1:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(trees.popitem()[1])],
                    cwd=ROOT, check=False, capture_output=True,
                )  # fmt: skip
    print()
    medians = {name: statistics.median(values) for name, values in walls.items()}
    for name, median in medians.items():
        print(f"{name}: median {median:.1f} s wall over {len(walls[name])} run(s)")
    ours = medians["this tree"]
    for name, median in medians.items():
        if name != "this tree":
            print(f"ratio this tree / {name}: {ours / median:.2f}")
    met = ours <= BUDGET_SECONDS
    print(f"budget {BUDGET_SECONDS:.0f} s: {'met' if met else 'missed'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
