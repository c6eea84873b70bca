"""How well questions in plain words are answered: top-1 and top-3 accuracy on the question
set of tests/data/questions.yaml (the bundled briefing), and out-of-scope questions refused.

    python -m bench.question_accuracy [--database-url URL] [--show-misses]

Budgets (issue: plain-language questions): top-1 ≥ 90 %, top-3 ≥ 97 %, out of scope 100 %.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import Engine
from sqlmodel import Session, select

from knowledge.models import Entry
from knowledge.read.questions import Verdict, answer_question
from knowledge.storage.database import make_engine
from knowledge.write.importer import prepare_database

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "questions.yaml"
TOP1, TOP3, REFUSED = 0.90, 0.97, 1.0


@dataclass
class Accuracy:
    asked: int = 0
    top1: int = 0
    top3: int = 0
    out_of_scope: int = 0
    refused: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def top1_share(self) -> float:
        return self.top1 / self.asked if self.asked else 0.0

    @property
    def top3_share(self) -> float:
        return self.top3 / self.asked if self.asked else 0.0

    @property
    def refused_share(self) -> float:
        return self.refused / self.out_of_scope if self.out_of_scope else 1.0

    def holds(self) -> bool:
        return (
            self.top1_share >= TOP1 and self.top3_share >= TOP3 and self.refused_share >= REFUSED
        )


def load_questions(path: Path = QUESTIONS) -> list[dict[str, object]]:
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(items, list)
    return items


def evaluate(engine: Engine, questions: list[dict[str, object]] | None = None) -> Accuracy:
    """Ask every question of the set; count the answers built from the expected entries."""
    result = Accuracy()
    with Session(engine) as session:
        slugs = {slug: eid for eid, slug in session.exec(select(Entry.id, Entry.slug))}
        for item in questions or load_questions():
            text = str(item["q"])
            answer = answer_question(session=session, text=text)
            ids = [c.id for c in answer.entries]
            if item.get("out_of_scope"):
                result.out_of_scope += 1
                if answer.verdict == Verdict.NOT_COVERED and not ids:
                    result.refused += 1
                else:
                    result.misses.append(f"answered out of scope: {text} -> {ids[:3]}")
                continue
            expected = {slugs[str(s)] for s in item["expect"]}  # type: ignore[attr-defined]
            result.asked += 1
            answered = answer.verdict != Verdict.NOT_COVERED
            if answered and ids[:1] and ids[0] in expected:
                result.top1 += 1
            if answered and expected & set(ids[:3]):
                result.top3 += 1
            else:
                result.misses.append(f"{answer.verdict.value}: {text} -> {ids[:3]}")
            if answered and ids[:1] and ids[0] not in expected and expected & set(ids[:3]):
                result.misses.append(f"second or third: {text} -> {ids[:3]}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/questions.db"
        engine = make_engine(url)
        prepare_database(engine)
        result = evaluate(engine)
        engine.dispose()
    print(f"questions: {result.asked} in scope, {result.out_of_scope} out of scope")
    print(f"top-1 {result.top1_share:.1%} (budget ≥ {TOP1:.0%}) · "
          f"top-3 {result.top3_share:.1%} (≥ {TOP3:.0%}) · "
          f"out of scope refused {result.refused_share:.0%} (100 %)")  # fmt: skip
    if args.show_misses:
        print("\n".join(result.misses))
    return 0 if result.holds() else 1


if __name__ == "__main__":
    sys.exit(main())
