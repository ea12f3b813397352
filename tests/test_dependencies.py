"""Dependencies as declared: everything the code imports is in pyproject, and htmx request details come
from htmx-flask rather than headers read by hand."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "portal").rglob("*.py")) + sorted((ROOT / "rules").rglob("*.py"))


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        names.extend(extra)
    return {re.split(r"[\[<>=!~ ;]", name, maxsplit=1)[0].lower().replace("_", "-") for name in names}


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"portal", "rules", "__future__"}


def test_every_imported_distribution_is_declared() -> None:
    distributions = packages_distributions()
    missing = {
        module: dist
        for module in _imported_modules()
        for dist in distributions.get(module, [module])[:1]
        if dist.lower().replace("_", "-") not in _declared()
    }
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"


def test_htmx_request_headers_are_read_through_htmx_flask() -> None:
    by_hand = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in SOURCES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"""headers(\.get\(|\[)\s*["']HX-""", line)
    ]
    assert by_hand == []
