"""The mutation list of scripts/mutate.py cannot rot: every original text is still there, once."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_mutate() -> ModuleType:
    """Import scripts/mutate.py (scripts is not a package)."""
    spec = importlib.util.spec_from_file_location("ketpaar_mutate", ROOT / "scripts" / "mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_every_mutation_names_text_that_occurs_exactly_once_in_its_file() -> None:
    mutate = load_mutate()
    assert len(mutate.MUTATIONS) >= 13
    assert mutate.problems(ROOT) == []


def test_a_mutation_whose_text_is_gone_is_reported(tmp_path: Path) -> None:
    mutate = load_mutate()
    first = mutate.MUTATIONS[0]
    (tmp_path / first.path).parent.mkdir(parents=True)
    (tmp_path / first.path).write_text("nothing of the original here\n", encoding="utf-8")
    assert f"{first.name}: original text occurs 0 times in {first.path}, not once" in mutate.problems(tmp_path)


def test_applying_a_mutation_changes_exactly_its_text(tmp_path: Path) -> None:
    mutate = load_mutate()
    m = mutate.MUTATIONS[0]
    original = (ROOT / m.path).read_text(encoding="utf-8")
    (tmp_path / m.path).parent.mkdir(parents=True)
    (tmp_path / m.path).write_text(original, encoding="utf-8")
    mutate.apply(m, tmp_path)
    assert (tmp_path / m.path).read_text(encoding="utf-8") == original.replace(m.original, m.replacement)
