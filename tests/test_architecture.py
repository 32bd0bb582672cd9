"""The shape of the code base: the light commands import no torch, the sub-packages of bench/ import
each other without cycles, bench/api stays free of torch, and the README's Layout names the real tree."""

from __future__ import annotations

import ast
import graphlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parent.parent
SUBPACKAGES = sorted(path.parent.name for path in ROOT.glob("bench/*/__init__.py"))
TORCH = {"torch", "torchvision", "timm", "open_clip"}  # torch, and what imports it on import

LIGHT_COMMANDS = """
import json, sys
from typer.testing import CliRunner
from bench.cli import app
report = []
for args in (["--help"], ["list"], ["grids"]):
    result = CliRunner().invoke(app, args)
    report.append([args, result.exit_code, "torch" in sys.modules])
print(json.dumps(report))
"""


def test_help_list_and_grids_import_no_torch(subprocess_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", LIGHT_COMMANDS], env=subprocess_env, capture_output=True, text=True,
                          timeout=120, check=True)
    # [command, exit code, torch imported by then]
    assert json.loads(done.stdout) == [[["--help"], 0, False], [["list"], 0, False], [["grids"], 0, False]]


def is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` tests ``TYPE_CHECKING`` (or ``typing.TYPE_CHECKING``)."""
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def runtime_imports(
    node: ast.AST, *, in_functions: bool, typing_too: bool = False
) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements under ``node`` that can run (those under ``if TYPE_CHECKING:`` only with
    ``typing_too``; those inside functions only with ``in_functions``)."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    elif in_functions or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        typing_only = not typing_too and isinstance(node, ast.If) and is_type_checking(node.test)
        for child in node.orelse if typing_only else ast.iter_child_nodes(node):
            yield from runtime_imports(child, in_functions=in_functions, typing_too=typing_too)


def imported_modules(path: Path, *, in_functions: bool, typing_too: bool = False) -> Iterator[str]:
    """Dotted names the runtime imports of ``path`` name (``from a import b`` names ``a`` and ``a.b``)."""
    module = path.relative_to(ROOT).with_suffix("").parts  # a package's own module ends in "__init__"
    for node in runtime_imports(ast.parse(path.read_text()), in_functions=in_functions, typing_too=typing_too):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:  # relative: counted up from the module's own package
            base = ".".join([*module[: -node.level], base]).strip(".")
        yield base
        yield from (f"{base}.{alias.name}" for alias in node.names)


def subpackage_graph() -> dict[str, set[str]]:
    """Sub-package of bench/ -> the other sub-packages its modules import, at module or function level,
    for types only (under ``if TYPE_CHECKING:``) too."""
    graph: dict[str, set[str]] = {name: set() for name in SUBPACKAGES}
    for name in SUBPACKAGES:
        for path in (ROOT / "bench" / name).rglob("*.py"):
            for imported in imported_modules(path, in_functions=True, typing_too=True):
                parts = imported.split(".")
                if parts[0] == "bench" and len(parts) > 1 and parts[1] in graph and parts[1] != name:
                    graph[name].add(parts[1])
    return graph


def test_the_sub_packages_of_bench_import_each_other_without_cycles() -> None:
    graph = subpackage_graph()
    assert {"api", "cli", "run", "train"} <= set(graph) and graph["cli"]  # the walk found the code
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        raise AssertionError(f"import cycle between sub-packages of bench/: {' -> '.join(error.args[1])}") from None


def test_bench_api_imports_no_torch_at_module_level() -> None:
    found = [f"{path.relative_to(ROOT)}: {name}" for path in (ROOT / "bench" / "api").rglob("*.py")
             for name in imported_modules(path, in_functions=False) if name.split(".")[0] in TORCH]
    assert found == []


def layout_folders(readme: str) -> set[str]:
    """The folders the fenced block under README's "## Layout" names, as paths from the repository root.
    A line's first word ending in "/" is a folder (``bench/api/``, or ``api/`` indented under ``bench/``)."""
    block = readme.split("\n## Layout", 1)[1].split("```")[1]
    folders: set[str] = set()
    parents: list[tuple[int, str]] = []  # (indent, path) of the folders enclosing the current line
    for line in block.splitlines():
        if not line.strip():
            continue
        indent, word = len(line) - len(line.lstrip()), line.split()[0]
        while parents and parents[-1][0] >= indent:
            parents.pop()
        if word.endswith("/"):
            path = (parents[-1][1] if parents else "") + word
            folders.add(path.rstrip("/"))
            parents.append((indent, path))
    return folders


def test_layout_parser_reads_full_and_indented_folder_names() -> None:
    readme = """intro

## Layout

```
bench/       the library
  api/       contracts
    deep/    inside api
  x.py       a file
bench/io/    io
tests/       tests
```
"""
    assert layout_folders(readme) == {"bench", "bench/api", "bench/api/deep", "bench/io", "tests"}


def test_the_readme_layout_names_every_sub_package_and_only_real_folders() -> None:
    named = layout_folders((ROOT / "README.md").read_text())
    assert sorted(folder for folder in named if not (ROOT / folder).is_dir()) == []
    wanted = {f"bench/{name}" for name in SUBPACKAGES} | {"baselines", "methods", "reports", "tests"}
    assert sorted(wanted - named) == []
