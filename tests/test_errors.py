"""One root for crosslab's errors: every error class derives from CrosslabError and keeps its built-in base."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache
from pathlib import Path

import pytest
from conftest import run_cli

import crosslab
from crosslab.core.errors import CrosslabError

#: Failures inside a simulated sandbox: tool output for the model under test, never a user's error.
SANDBOX_ONLY = {"FsError", "ToolInputError", "ShellSyntaxError", "_HostError"}


@cache
def crosslab_exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(crosslab.__path__, "crosslab."):
        if info.name.endswith("__main__"):
            continue  # running it would start the CLI
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[name] = obj
    return found


def test_every_crosslab_error_derives_from_the_root_and_is_drawn_in_its_tree():
    classes = crosslab_exception_classes()
    expected = {"VerificationError", "ItemsError", "IdentityError", "KeystoreError", "LabExistsError",
                "EncryptionError", "DeploymentError", "ProtocolError", "BundleError", "RevealError", "RoundError",
                "LeakError", "JournalError", "CredentialsError", "TargetError", "SampleError", "CrosslabError"}
    assert expected <= set(classes)
    tree = CrosslabError.__doc__ or ""
    for name, cls in classes.items():
        if name in SANDBOX_ONLY:
            assert not issubclass(cls, CrosslabError), name
            continue
        assert issubclass(cls, CrosslabError), name
        assert name in tree, f"{name} is missing from CrosslabError's docstring"


@pytest.mark.parametrize("name, base", [
    ("VerificationError", ValueError), ("ItemsError", ValueError), ("IdentityError", ValueError),
    ("KeystoreError", ValueError), ("EncryptionError", ValueError), ("DeploymentError", ValueError),
    ("ProtocolError", ValueError), ("BundleError", ValueError), ("RevealError", ValueError),
    ("RoundError", ValueError), ("LeakError", ValueError),
    ("JournalError", RuntimeError), ("CredentialsError", RuntimeError),
])
def test_existing_except_clauses_still_catch(name: str, base: type[Exception]):
    cls = crosslab_exception_classes()[name]
    with pytest.raises(base):
        raise cls("x")
    with pytest.raises(CrosslabError):
        raise cls("x")


def test_a_yaml_value_error_is_a_one_line_protocol_error(tmp_path: Path):
    path = tmp_path / "protocol.yaml"
    path.write_text("title: x\nround: {number: 1, date: 2026-13-45}\n")
    for args in (["protocol", "id", str(path)], ["round", "plan", str(path)]):
        result = run_cli(*args)
        err = result.stderr.strip()
        assert result.returncode == 2 and "\n" not in err and "Traceback" not in err, err
        assert "is not valid YAML: month must be in 1..12" in err
