"""No function in the app is longer than a screen: `make lint` holds complexity (ruff C901),
this holds length (issue #12)."""

import ast
from pathlib import Path

import clinic_app

MAX_LINES = 60
APP = Path(clinic_app.__file__).parent


def _long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    ]


def test_no_app_function_is_longer_than_a_screen():
    found = [
        f"{path.relative_to(APP.parent)}: {name} ({lines} lines)"
        for path in sorted(APP.rglob("*.py"))
        for name, lines in _long_functions(path.read_text(encoding="utf-8"), MAX_LINES)
    ]
    assert found == []


def test_the_length_check_sees_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    assert _long_functions(f"def long():\n{body}\n", MAX_LINES) == [("long", MAX_LINES + 1)]
    assert _long_functions(f"def short():\n{body[: body.rindex(chr(10))]}\n", MAX_LINES) == []
