"""The service packages form layers: each imports only from the packages the README lists above it.

The README's "Where things live" table is the written order; this test reads it, so the document
and the code cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.support.db import ROOT

SERVICES = ROOT / "postforge" / "services"
# What a service never imports: the UI, the web framework, the task queue, the doors into services.
FORBIDDEN = (
    "reflex",
    "celery",
    "postforge.state",
    "postforge.pages",
    "postforge.components",
    "postforge.api",
    "worker",
)


def written_order() -> list[str]:
    section = (ROOT / "README.md").read_text().split("### Where things live", 1)[1]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function; `from x import y` gives x.y too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] == ["postforge", "services"] and len(parts) > 2:
        return parts[2]
    return None


def imports_against(path: Path, own: str, order: list[str]) -> list[str]:
    """The modules `path` (in package `own`) imports from packages listed after `own`."""
    return sorted(
        module
        for module in imported_modules(path)
        if (other := package_of(module)) in order and order.index(other) > order.index(own)
    )


def service_files() -> list[Path]:
    return sorted(path for path in SERVICES.rglob("*.py"))


def test_every_service_package_is_in_the_written_order() -> None:
    packages = sorted(path.name for path in SERVICES.iterdir() if (path / "__init__.py").exists())
    assert sorted(written_order()) == packages
    # No module lies loose beside the packages.
    assert sorted(path.name for path in SERVICES.glob("*.py")) == ["__init__.py"]


@pytest.mark.parametrize("path", service_files(), ids=lambda p: str(p.relative_to(SERVICES)))
def test_imports_point_down_the_layers(path: Path) -> None:
    own = path.relative_to(SERVICES).parts[0]
    if own == "__init__.py":
        return
    against = imports_against(path, own, written_order())
    assert against == [], f"{own} sits below these packages, so it must not import them: {against}"


@pytest.mark.parametrize("path", service_files(), ids=lambda p: str(p.relative_to(SERVICES)))
def test_services_never_import_the_ui_or_the_task_queue(path: Path) -> None:
    bad = sorted(
        module
        for module in imported_modules(path)
        if any(module == name or module.startswith(name + ".") for name in FORBIDDEN)
    )
    assert bad == [], f"services are plain Python; {path.name} imports {bad}"


def test_the_check_finds_an_upward_import_and_passes_a_downward_one(tmp_path: Path) -> None:
    order = written_order()
    low, high = order[1], order[-1]
    module = tmp_path / "module.py"
    module.write_text(
        f"from postforge.services.{order[0]} import errors\n"
        f"def later():\n    from postforge.services import {high}\n"
    )
    assert imports_against(module, low, order) == [f"postforge.services.{high}"]
    assert imports_against(module, high, order) == []
