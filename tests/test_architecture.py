"""The boundaries hold: import contracts (pyproject.toml, import-linter) pass on the code, and
fail on each kind of violation the layout forbids; what import-linter can't see is checked
here too (dynamic imports, and importing knowledge at run time)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


# Each line, added to the file named, breaks one rule of the layout.
VIOLATIONS = {
    "knowledge imports the bot": (
        "knowledge/read/views.py",
        "from bot.presenters import html",
        "knowledge is the domain core",
    ),
    "knowledge imports telegram": (
        "knowledge/write/curation.py",
        "import telegram",
        "knowledge is the domain core",
    ),
    "a presenter queries the database": (
        "bot/presenters/entries.py",
        "from sqlmodel import Session, select",
        "presenters take plain values",
    ),
    "a presenter calls a handler": (
        "bot/presenters/admin.py",
        "from bot.handlers import public",
        "presenters take plain values",
    ),
    "a handler imports another handler": (
        "bot/handlers/curation.py",
        "from bot.handlers import public",
        "handlers don't import each other",
    ),
    "the shared gate imports the application (a hidden cycle)": (
        "bot/menus.py",
        "from bot.app import build_application",
        "the bot in layers",
    ),
    "delivery imports a handler": (
        "bot/delivery/scheduler.py",
        "from bot.handlers.digest import digest_command",
        "the bot in layers",
    ),
    "the read side imports the write side": (
        "knowledge/read/timeline.py",
        "from knowledge.write.curation import create_entry",
        "the domain in layers",
    ),
}


@pytest.mark.parametrize("violation", sorted(VIOLATIONS))
def test_each_violation_breaks_a_contract(violation: str, tmp_path: Path) -> None:
    target, line, contract = VIOLATIONS[violation]
    for package in ("bot", "knowledge"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / target
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")

    result = _lint_imports(tmp_path)

    assert result.returncode != 0, result.stdout[-2000:]
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in broken), result.stdout[-2000:]


def _dynamic_imports(folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in ("importlib.import_module", "import_module", "__import__"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return found


@pytest.mark.parametrize("folder", ["knowledge", "bot/presenters"])
def test_no_dynamic_imports_where_contracts_guard(folder: str) -> None:
    """import-linter reads import statements; an importlib call would slip past it."""
    assert _dynamic_imports(ROOT / folder) == []


def test_importing_knowledge_loads_no_telegram_module() -> None:
    code = (
        "import sys, pkgutil, importlib, knowledge\n"
        "for m in pkgutil.walk_packages(knowledge.__path__, 'knowledge.'): "
        "importlib.import_module(m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'bot')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert out == "[]"


def test_modules_stay_small() -> None:
    """Each file has one job; past 500 lines it has more than one."""
    big = {
        str(path.relative_to(ROOT)): n
        for folder in ("bot", "knowledge")
        for path in (ROOT / folder).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert big == {}
