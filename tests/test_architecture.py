"""The package's architecture (docs/design.md, "Architecture"): subpackages by layer, imports one way.

Layers, bottom to top: ``exceptions`` < ``model`` < ``stats`` < ``engines`` < ``design`` < ``plot`` < ``scenarios``
< ``cli``. A module may import its own subpackage and any layer below it, never one above; there is no import
circle between modules; simpy, joblib and matplotlib each stay in their one module; importing the statistics
loads no engine, parallel layer or plotting library; no submodule shadows a public function.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import trialsim

PACKAGE = Path(trialsim.__file__).resolve().parent
LAYERS = ("exceptions", "model", "stats", "engines", "design", "plot", "scenarios", "cli")
#: The package root may name every layer: it only exposes the public API (lazily) and starts the command line.
ROOT = {"trialsim", "trialsim.__main__"}
HOME = {"simpy": "trialsim.engines.des", "joblib": "trialsim.design.montecarlo"}


def _modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> list[tuple[str, int]]:
    """Absolute names of what module ``name`` imports (anywhere in it, functions included), with line numbers.

    ``from X import y`` counts as an import of ``X.y`` when ``X.y`` is a module of the package, else of ``X``.
    """
    path = MODULES[name]
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if target == "trialsim" and alias.name == "__version__":
                    continue  # the version string: a constant of the root, not an import of a layer
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES else target, node.lineno))
    return found


def _layer(name: str) -> int | None:
    """Index of the layer of a trialsim module (None for the root and for names outside the package)."""
    parts = name.split(".")
    if parts[0] != "trialsim" or name in ROOT or len(parts) < 2:
        return None
    return LAYERS.index(parts[1])


def test_every_module_has_a_layer():
    for name in MODULES:
        if name not in ROOT:
            assert name.split(".")[1] in LAYERS, f"{name} is in no layer: put it in one of {LAYERS}"


@pytest.mark.parametrize("name", sorted(set(MODULES) - ROOT))
def test_imports_flow_one_way(name):
    mine = _layer(name)
    upward = [f"line {line}: {target} ({LAYERS[_layer(target)]})" for target, line in _imports(name)
              if target.startswith("trialsim") and (_layer(target) is None or _layer(target) > mine)]
    assert not upward, f"{name} ({LAYERS[mine]}) imports from a layer above it: {upward}"


def test_no_import_circle():
    graph = {name: {t for t, _ in _imports(name) if t in MODULES and t != name} for name in MODULES}
    # a module never imports its own package's __init__ (that is a circle through the package)
    selfish = [(n, t) for n, targets in graph.items() for t in targets if n.startswith(t + ".") and _is_package(t)]
    assert not selfish, f"modules importing their own package (a circle through __init__): {selfish}"
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("library", sorted(HOME))
def test_library_imported_only_in_its_module(library):
    users = sorted(name for name in MODULES if any(t.split(".")[0] == library for t, _ in _imports(name)))
    assert users == [HOME[library]], f"{library} imported in {users}"


def test_matplotlib_only_in_the_plot_layer():
    users = [name for name in MODULES if any(t.split(".")[0] == "matplotlib" for t, _ in _imports(name))]
    assert all(name.startswith("trialsim.plot") for name in users), users


@pytest.mark.parametrize("module", ["trialsim", "trialsim.model", "trialsim.stats", "trialsim.engines.seeding",
                                    "trialsim.engines.batch"])
def test_light_modules_do_not_load_engines_or_parallel_layer(module):
    code = (f"import sys, {module}\n"
            "bad = [m for m in ('simpy', 'joblib', 'matplotlib', 'dask') if m in sys.modules]\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing {module} loaded {out}"


def test_no_global_random_state():
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        assert "np.random.seed(" not in text and "import random\n" not in text, name


def test_no_submodule_shadows_a_public_function():
    # Import every module first: importing a submodule binds its name on the parent package, which is how a
    # module can shadow a function of the same name
    for info in pkgutil.walk_packages(trialsim.__path__, "trialsim."):
        if info.name != "trialsim.__main__":
            importlib.import_module(info.name)
    for name in trialsim.__all__:
        value = getattr(trialsim, name)
        assert not isinstance(value, types.ModuleType), f"trialsim.{name} is a module"
    children = {info.name for info in pkgutil.iter_modules(trialsim.__path__)}
    assert not children & set(trialsim.__all__)
    for package in ("model", "stats", "engines", "design", "cli"):
        mod = importlib.import_module(f"trialsim.{package}")
        for name in getattr(mod, "__all__", ()):
            assert not isinstance(getattr(mod, name), types.ModuleType), f"trialsim.{package}.{name} is a module"
            assert f"trialsim.{package}.{name}" not in MODULES, f"trialsim.{package}.{name} is also a module"


def test_the_readme_call_works_after_importing_every_submodule():
    # `from trialsim.design.sizing import sample_size` used to turn trialsim.power into a module
    from trialsim.design.sizing import sample_size  # noqa: F401

    assert callable(trialsim.power) and callable(trialsim.calibrate)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("trialsim.power")


def test_every_package_is_installed():
    """A non-editable install ships every subpackage: pyproject's package list names each directory with an
    ``__init__.py`` (trialsim.plot was once missing, so the CLI failed on a clean install, never in a checkout)."""
    import tomllib
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(pyproject["tool"]["setuptools"]["packages"]) - {"trialsim.scenario_files"}
    packages = {name for name in MODULES if _is_package(name)}
    assert packages == listed
