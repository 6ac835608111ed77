"""The architecture rules of docs/design.md ("Architecture"): simpy, joblib and matplotlib stay in their modules,
light modules load no engine, no global random state."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "trialsim"
HOME = {"simpy": {"des.py"}, "joblib": {"montecarlo.py"}}


def _top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("library", sorted(HOME))
def test_library_imported_only_in_its_module(library):
    offenders = [p.name for p in PACKAGE.glob("*.py") if library in _top_level_imports(p) and p.name not in HOME[library]]
    assert not offenders, f"{library} imported in {offenders}"


def test_matplotlib_never_imported_at_module_level():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert not (mod or "").startswith("matplotlib"), path.name


@pytest.mark.parametrize("module", ["trialsim", "trialsim.model", "trialsim.calibrate", "trialsim.estimators",
                                    "trialsim.data", "trialsim.seeding"])
def test_light_modules_do_not_load_engines_or_parallel_layer(module):
    code = (f"import sys, {module}\n"
            "bad = [m for m in ('simpy', 'joblib', 'matplotlib', 'dask') if m in sys.modules]\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing {module} loaded {out}"


def test_no_global_random_state():
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        assert "np.random.seed(" not in text and "import random\n" not in text, path.name
