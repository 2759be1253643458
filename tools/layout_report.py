"""Measure the package layout against issue 29's targets, from the code (an ``ast`` walk).

    python tools/layout_report.py [--check]

Prints: import cycles among gswarp's modules (imports inside functions counted), private names
imported across packages, the readers the plan imports, the modules flat at ``gswarp/``'s
root, the functions outside the kernels over 60 code lines, and the click command functions
over 40. ``--check`` exits 1 when a target is missed (for CI once the layout meets them).
Code lines: lines with code, not blank, not comments, not the docstring.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gswarp"
READERS = ("gswarp.io", "nibabel", "zarr", "PIL", "tifffile", "h5py")
KERNELS: set[str] = set()  # modules exempt from the length targets (none since issue 31)
TARGETS = {"cycles": 0, "private": 0, "plan readers": 0, "flat": 6, "long": 0, "commands": 0}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rsplit(".", 1)[0]


def resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = package_of(module, is_package).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports(tree: ast.AST, module: str, is_package: bool):
    """(imported module, imported name or None) for every import, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            target = resolve(node, module, is_package)
            for alias in node.names:
                yield target, alias.name


def code_lines(node: ast.AST, source_lines: list[str]) -> int:
    first = node.body[0] if node.body else None
    skip = set()
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        skip = set(range(first.lineno, first.end_lineno + 1))
    count = 0
    for number in range(node.lineno, node.end_lineno + 1):
        text = source_lines[number - 1].strip()
        if text and not text.startswith("#") and number not in skip:
            count += 1
    return count


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
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
            visit(v)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    options = parser.parse_args()
    files = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    modules = {module_name(p): p for p in files}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    private, plan_readers, long_functions, long_commands = [], [], [], []
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        lines = source.splitlines()
        for target, name in imports(tree, module, is_package):
            if name is not None and f"{target}.{name}" in modules:
                target = f"{target}.{name}"  # from package import module
            if target in modules and target != module:
                graph[module].add(target)
            own = package_of(module, is_package)
            theirs = package_of(target, target in modules and modules[target].name == "__init__.py")
            if name and name.startswith("_") and target.startswith("gswarp") and own != theirs:
                private.append(f"{module} <- {target}.{name}")
            if module.startswith("gswarp.plan") and target.startswith(READERS):
                plan_readers.append(f"{module} <- {target}")
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            count = code_lines(node, lines)
            is_command = any(
                "command" in ast.unparse(d) for d in node.decorator_list
            ) and module.startswith("gswarp.cli")
            if is_command and count > 40:
                long_commands.append(f"{module}.{node.name}: {count}")
            elif module not in KERNELS and count > 60:
                long_functions.append(f"{module}.{node.name}: {count}")
    flat = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    found = cycles(graph)
    figures = {
        "cycles": len(found),
        "private": len(private),
        "plan readers": len(plan_readers),
        "flat": len(flat),
        "long": len(long_functions),
        "commands": len(long_commands),
    }
    print(f"import cycles (imports in functions counted): {len(found)}")
    for component in found:
        print("  " + " <-> ".join(component))
    print(f"private names imported across packages: {len(private)}")
    for line in sorted(private):
        print("  " + line)
    print(f"readers the plan imports: {len(plan_readers)}")
    for line in sorted(set(plan_readers)):
        print("  " + line)
    print(f"modules flat at gswarp/'s root: {len(flat)} (target <= {TARGETS['flat']})")
    print("  " + " ".join(sorted(flat)))
    print(f"functions outside the kernels over 60 code lines: {len(long_functions)}")
    for line in sorted(long_functions, key=lambda t: -int(t.rsplit(": ", 1)[1])):
        print("  " + line)
    print(f"click command functions over 40 code lines: {len(long_commands)}")
    for line in long_commands:
        print("  " + line)
    missed = [k for k, v in figures.items() if v > TARGETS[k]]
    print("targets missed: " + (", ".join(missed) if missed else "none"))
    return 1 if options.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
