"""The architecture's rules, checked on the source: sizes, layering, and the map in the docs."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "eodrec"
MODULES = sorted(PACKAGE.rglob("*.py"))
LIMITS = {"module": 500, "function": 80, "class": 300}
# Layers below training: they must not reach up into what uses them.
LOWER = ("models", "data", "kernels", "heuristics")
UPPER = ("eodrec.train", "eodrec.stages", "eodrec.experiment", "eodrec.sweeps", "eodrec.book")
# What runs a trained model must not pull the training loop in with it.
NO_TRAINING = ("export.py", "latency.py", "latency_baselines.py")


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _reaches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_package_is_found():
    assert len(MODULES) > 40


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_size_limits(path):
    assert len(path.read_text().splitlines()) <= LIMITS["module"]
    too_long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.end_lineno - node.lineno + 1
        > LIMITS["class" if isinstance(node, ast.ClassDef) else "function"]
    ]
    assert not too_long


@pytest.mark.parametrize(
    "path", [p for p in MODULES if p.relative_to(PACKAGE).parts[0] in LOWER], ids=_name
)
def test_models_and_data_do_not_import_training_experiments_or_the_book(path):
    assert not {name for name in _imports(path) if _reaches(name, UPPER)}


@pytest.mark.parametrize("path", [PACKAGE / name for name in NO_TRAINING], ids=_name)
def test_export_and_latency_do_not_import_the_training_loop(path):
    assert not {name for name in _imports(path) if _reaches(name, UPPER)}


def test_the_rules_catch_an_offender(tmp_path):
    offender = tmp_path / "bad.py"
    offender.write_text("def f():\n    from eodrec.train import TrainingLoop\n")
    assert any(_reaches(name, UPPER) for name in _imports(offender))
    assert not _reaches("eodrec.training_notes", UPPER)


def test_every_module_is_in_the_architecture_doc():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [
        str(path.relative_to(ROOT))
        for path in MODULES
        if path.name != "__main__.py" and f"`{path.relative_to(ROOT)}`" not in doc
    ]
    assert not missing
