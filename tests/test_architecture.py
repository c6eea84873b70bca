"""The domain core stays free of Telegram: knowledge/ never imports telegram."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


def test_knowledge_sources_never_import_telegram() -> None:
    offenders = []
    for path in KNOWLEDGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in ("telegram", "bot")
            ]
    assert offenders == []


def test_importing_knowledge_loads_no_telegram_module() -> None:
    code = (
        "import sys, knowledge.read.timeline, knowledge.write.curation, knowledge.write.importer, "
        "knowledge.storage.search_index, knowledge.storage.database\n"
        "import pkgutil, importlib, knowledge\n"
        "for m in pkgutil.walk_packages(knowledge.__path__, 'knowledge.'): "
        "importlib.import_module(m.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'telegram'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
