"""The examples in the docstrings of every trialsim module run, and print what they say they print."""

import doctest
import importlib
import pkgutil

import pytest

import trialsim

# ``trialsim.__main__`` runs the command line when imported; it has no docstring examples.
MODULES = ["trialsim"] + sorted(m.name for m in pkgutil.walk_packages(trialsim.__path__, "trialsim.")
                                if m.name != "trialsim.__main__")
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _examples(module) -> int:
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(module))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (run doctest -v)"
    assert result.attempted == _examples(module)


def test_examples_exist():
    # Not vacuous: the public modules document their use with examples (28 when this test was written:
    # estimators, formulas, both engines, power); fewer than 20 means examples were lost or not found.
    found = {name: _examples(importlib.import_module(name)) for name in MODULES}
    assert sum(found.values()) >= 20, found
    for name in ("trialsim.engines.des", "trialsim.engines.vectorized", "trialsim.design.sizing", "trialsim.design.formulas",
                 "trialsim.stats.rank_tests", "trialsim.stats.product_limit"):
        assert found[name] > 0, name
