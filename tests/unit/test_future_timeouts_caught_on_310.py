"""A ``Future.result(timeout)`` overrun is caught as ``concurrent.futures.TimeoutError``.

On Python 3.10 that class is not the builtin ``TimeoutError`` (they are one
since 3.11), so ``except TimeoutError`` around a future's ``result`` lets
the raw exception through there (issue 7, bug 8); ``asyncio.wait_for``'s
``asyncio.TimeoutError`` likewise. This scans the shipped
code, which the 3.10 tox env alone would catch only on the paths it runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "messaging", ROOT / "drivers", ROOT / "examples" / "sqlite-driver"]


def _waits_on_a_future(body: list[ast.stmt]) -> bool:
    """A ``x.result(...)``/``x.exception(...)`` or ``asyncio.wait_for(...)`` call in ``body``."""
    def waits(node: ast.AST) -> bool:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return False
        if node.func.attr in ("result", "exception"):
            return True
        return (node.func.attr == "wait_for" and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "asyncio")
    return any(waits(node) for stmt in body for node in ast.walk(stmt))


def _catches_builtin_timeout(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id == "TimeoutError" for n in names)


def test_no_builtin_timeout_error_around_future_result():
    found = []
    for root in SHIPPED:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Try) and _waits_on_a_future(node.body):
                    found += [f"{path.relative_to(ROOT)}:{h.lineno}" for h in node.handlers
                              if _catches_builtin_timeout(h)]
    assert not found, ("except TimeoutError around Future.result misses "
                       f"concurrent.futures.TimeoutError on 3.10: {found}")
