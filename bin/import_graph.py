#!/usr/bin/env python
"""The app packages' import graph: cycles, imports inside functions, files over the size limit.

Run from the project root: `python bin/import_graph.py` (exit status 1 when it finds anything).
tests/test_architecture.py runs the same checks. An import inside a function counts as an edge
too: hiding an import in a function does not take a module out of a circle.
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "resellers", "billing", "wallets", "topup", "api")
MAX_LINES = 400


def app_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every app module outside migrations."""
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imports_of(name: str, path: Path, modules) -> tuple[set[str], list[tuple[str, int, str]]]:
    """The app modules `name` imports, and those it imports inside a function (module, line,
    target)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges, nested = set(), []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            targets = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - child.level + 1]
                        + ([base] if base else [])
                    )
                # `from pkg import mod` imports the submodule when there is one.
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in child.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
                    if in_function and (name, child.lineno, target) not in nested:
                        nested.append((name, child.lineno, target))
            visit(child, inner)

    visit(tree, False)
    return edges, nested


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def report() -> dict:
    modules = app_modules()
    graph, nested = {}, []
    for name, path in modules.items():
        graph[name], inner = imports_of(name, path, modules)
        nested += inner
    long_files = [
        (str(path.relative_to(ROOT)), n)
        for path in modules.values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    return {"cycles": cycles(graph), "function_imports": nested, "long_files": long_files}


def main() -> int:
    found = report()
    print(f"cycles: {len(found['cycles'])}")
    for component in found["cycles"]:
        print(f"  {len(component)} modules: {', '.join(component)}")
    print(f"imports inside functions: {len(found['function_imports'])}")
    for module, line, target in found["function_imports"]:
        print(f"  {module}:{line} imports {target}")
    print(f"files over {MAX_LINES} lines: {len(found['long_files'])}")
    for path, n in found["long_files"]:
        print(f"  {path}: {n}")
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
