"""The public extension API: ``from crosslab import ...``, pinned, and loaded lazily."""

import subprocess
import sys

import crosslab

PUBLIC = ["FunctionTarget", "Item", "Suite", "Transcript", "Verdict", "__version__", "grader", "suite"]


def test_all_is_pinned():
    assert sorted(crosslab.__all__) == PUBLIC
    assert set(PUBLIC) <= set(dir(crosslab))


def test_public_names_are_the_internal_objects():
    from crosslab import FunctionTarget, Item, Suite, Transcript, Verdict, grader, suite
    from crosslab.core.version import __version__
    from crosslab.grading.grader import grader as internal_grader
    from crosslab.grading.transcript import Transcript as InternalTranscript
    from crosslab.grading.verdict import Verdict as InternalVerdict
    from crosslab.items.item import Item as InternalItem
    from crosslab.suites.declare import suite as internal_suite
    from crosslab.suites.registry import Suite as InternalSuite
    from crosslab.targets.function_target import FunctionTarget as InternalFunctionTarget

    assert (FunctionTarget, Item, Suite, Transcript, Verdict, grader, suite) == (
        InternalFunctionTarget, InternalItem, InternalSuite, InternalTranscript, InternalVerdict,
        internal_grader, internal_suite)
    assert crosslab.__version__ == __version__


def test_unknown_name_is_an_attribute_error():
    try:
        crosslab.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("crosslab.NoSuchThing resolved")


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


HEAVY = ("crosslab.suites", "crosslab.engine", "crosslab.grading", "crosslab.results")
LOADED = ("import sys; print(sorted(m for m in sys.modules if m.split('.')[:2] in "
          f"[n.split('.') for n in {HEAVY!r}]))")


def test_importing_the_verifier_loads_no_suite_or_engine_code():
    result = _fresh(f"import crosslab.bundle.verify, crosslab; crosslab.__version__; {LOADED}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_exports_load_on_first_use():
    result = _fresh(f"import crosslab; from crosslab import Verdict; {LOADED}")
    assert result.returncode == 0, result.stderr
    assert "crosslab.grading" in result.stdout and "crosslab.suites" not in result.stdout
    result = _fresh(f"from crosslab import *; {LOADED}; print(Suite, suite, FunctionTarget)")
    assert result.returncode == 0, result.stderr
    assert "crosslab.suites" in result.stdout
