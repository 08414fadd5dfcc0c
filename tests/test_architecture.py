"""The shape of the code: imports point one way, rooms stay small (bin/import_graph.py)."""

import importlib.util
from pathlib import Path

import pytest

_path = Path(__file__).resolve().parent.parent / "bin" / "import_graph.py"
_spec = importlib.util.spec_from_file_location("import_graph", _path)
import_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_graph)

# Imports allowed inside a function, by importing module, each with its reason. Only Django's
# app loading justifies one: `AppConfig.ready` runs once every app's models are loaded, and
# apps.py itself is imported before they are.
ALLOWED_FUNCTION_IMPORTS = {
    "resellers.apps": "ready() connects the two-factor sign-in receiver (needs the models)",
    "billing.apps": "ready() registers the customers figure (selectors import the models)",
    "topup.apps": "ready() registers checks, figures and the account page's section",
    "locales.apps": "ready() connects the sign-in receiver applying the user's language",
    "wallets.apps": "ready() registers the wallet figures (they import the models)",
}

REPORT = import_graph.report()


def test_no_import_circle():
    assert REPORT["cycles"] == []


def test_no_app_file_over_the_limit():
    assert REPORT["long_files"] == []


def test_imports_inside_functions_only_where_app_loading_needs_them():
    unexplained = [
        f"{module}:{line} imports {target}"
        for module, line, target in REPORT["function_imports"]
        if module not in ALLOWED_FUNCTION_IMPORTS
    ]
    assert unexplained == []


def test_the_checker_sees_a_circle_and_a_function_import(tmp_path):
    """Guards the guard: a two-module circle closed inside a function is found."""
    (tmp_path / "a.py").write_text("from b import x\n")
    (tmp_path / "b.py").write_text("def x():\n    from a import y\n")
    modules = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    graph, nested = {}, []
    for name, path in modules.items():
        graph[name], inner = import_graph.imports_of(name, path, modules)
        nested += inner
    assert import_graph.cycles(graph) == [["a", "b"]]
    assert nested == [("b", 2, "a")]


def test_every_audit_action_is_written_somewhere():
    """AuditEvent.Action holds no name nobody writes (`audit` refuses any action outside it)."""
    from resellers.models import AuditEvent

    root = import_graph.ROOT
    source = "\n".join(
        path.read_text()
        for path in import_graph.app_modules().values()
        if path != root / "resellers" / "models.py"
    )
    unused = [
        action.name
        for action in AuditEvent.Action
        # by name, or by value where a module still writes the string itself
        if f"AuditEvent.Action.{action.name}" not in source and f'"{action.value}"' not in source
    ]
    assert unused == []


def test_audit_refuses_an_action_outside_the_choices():
    from resellers.models import audit

    with pytest.raises(ValueError):
        audit("cards.borrowed")


def test_every_project_app_is_packaged():
    """`pip install .` (production) ships every app in INSTALLED_APPS that lives in this repo."""
    import fnmatch
    import tomllib

    from django.conf import settings

    root = _path.parent.parent
    include = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    local = [
        app.split(".")[0] for app in settings.INSTALLED_APPS if (root / app.split(".")[0]).is_dir()
    ]
    missing = [
        app for app in local if not any(fnmatch.fnmatch(app, pattern) for pattern in include)
    ]
    assert local and missing == []
