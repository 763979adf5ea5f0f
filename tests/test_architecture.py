"""Dependencies point one way: enforcement -> activelearning -> labeling, and the ML core of
activelearning imports no Django. Walks every import (ast), including ones inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_APPS = {
    "labeling": ("activelearning", "enforcement"),
    "activelearning": ("enforcement",),
}
ML_CORE = (
    "activelearning/encoders",
    "activelearning/strategies.py",
    "activelearning/training.py",
    "activelearning/metrics.py",
)
WEB_FRAMEWORKS = ("django", "rest_framework")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def python_files(relative: str) -> list[Path]:
    root = REPO_ROOT / relative
    if root.is_file():
        return [root]
    return sorted(root.rglob("*.py")) if root.is_dir() else []


def violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {module}"
        for path in paths
        for line, module in imported_modules(path)
        if module.split(".")[0] in forbidden
    ]


@pytest.mark.parametrize("app", sorted(FORBIDDEN_APPS))
def test_an_app_imports_nothing_that_depends_on_it(app):
    paths = python_files(app)
    assert paths, f"{app}/ has no Python files"

    assert violations(paths, FORBIDDEN_APPS[app]) == []


def test_the_ml_core_imports_no_web_framework():
    paths = [path for core in ML_CORE for path in python_files(core)]

    assert violations(paths, WEB_FRAMEWORKS) == []


def test_the_walk_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from enforcement import models\n    import django.db\n")

    assert [name for _, name in imported_modules(module)] == ["enforcement", "django.db"]
