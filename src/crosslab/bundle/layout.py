"""File names, constants and format versions of a bundle directory (docs/protocol.md, section 6)."""

from __future__ import annotations

from typing import Any

from crosslab.attest.errors import VerificationError

ITEMS = "items.jsonl"
PUBLIC = "public.jsonl"
RESTRICTED = "restricted.age"
STATEMENT = "statement.dsse.json"
PROTOCOL = "protocol.json"
PROTOCOL_SIGNATURES = "protocol.dsse.json"
RESPONSE = "response.dsse.json"
#: Later, deliberate disclosures of restricted/withheld samples: reveals/NNNN.jsonl, lines {"i", "d"}.
REVEALS = "reveals"

PREDICATE_TYPE = "urn:crosslab:predicate:evaluation-bundle:v1"
RESPONSE_PREDICATE_TYPE = "urn:crosslab:predicate:right-of-reply:v1"

#: The bundle format this crosslab writes, "major.minor". A verifier reads every minor version of
#: the majors it knows (a minor version only adds fields) and refuses other majors.
FORMAT_VERSION = "2.0"
#: Format 3 is written only when a stub is ``unscored`` (a judge reply that did not parse: label
#: "unscored", score null), which format 2 verifiers would count as graded and failed; every other
#: bundle stays format 2, so older verifiers keep reading it.
UNSCORED_FORMAT_VERSION = "3.0"
KNOWN_MAJORS = (1, 2, 3)
#: Format 1 (crosslab 0.1.0) had no ``format_version`` field and declared no metric definitions;
#: every suite's metrics in it are version 1 of that suite (named by its category).
IMPLIED_FORMAT = "1.0"


#: A bundle with an adaptive attack (a protocol ``attack:``) is the same major, minor 1: the statement
#: only gains an ``attack`` field, which verifiers of that major without attack support leave unchecked.
ATTACK_MINOR = "1"


def format_for(stubs: Any, *, attack: bool = False) -> str:
    """The format a bundle of these stubs is written in: 3.0 if any is unscored, else 2.0; x.1 with an attack."""
    version = UNSCORED_FORMAT_VERSION if any(s["label"] is not None and s["score"] is None for s in stubs) \
        else FORMAT_VERSION
    return version.split(".")[0] + "." + ATTACK_MINOR if attack else version


def format_version(predicate: dict[str, Any]) -> str:
    return str(predicate.get("format_version", IMPLIED_FORMAT))


def check_format_version(predicate: dict[str, Any]) -> None:
    version = format_version(predicate)
    major, dot, minor = version.partition(".")
    if not (major.isdigit() and dot and minor.isdigit()):
        raise VerificationError(f"{STATEMENT}: format_version {version!r} is not MAJOR.MINOR")
    if int(major) not in KNOWN_MAJORS:
        raise VerificationError(f"{STATEMENT}: bundle format {version} is not one this verifier reads "
                                f"(it reads {', '.join(f'{m}.x' for m in KNOWN_MAJORS)}); "
                                "verify it with a crosslab release that supports it")
    if "format_version" in predicate and int(major) < 2:
        raise VerificationError(f"{STATEMENT}: format 1 bundles carry no format_version field")


def declared_definitions(predicate: dict[str, Any], suite_metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Category -> {suite, metrics_version, crosslab_version}: the definitions the bundle says it used.

    Every category with suite metrics must have exactly one declaration.
    """
    if "format_version" not in predicate:  # format 1
        return {c: {"suite": c, "metrics_version": 1, "crosslab_version": str(predicate.get("crosslab_version"))}
                for c in suite_metrics}
    declared = predicate.get("suite_metrics")
    if not isinstance(declared, dict) or set(declared) != set(suite_metrics):
        raise VerificationError(f"{STATEMENT}: suite_metrics must declare one definition per category "
                                "in metrics.suites")
    for category, decl in declared.items():
        if not (isinstance(decl, dict) and set(decl) == {"suite", "metrics_version", "crosslab_version"}
                and isinstance(decl["suite"], str) and type(decl["metrics_version"]) is int
                and isinstance(decl["crosslab_version"], str)):
            raise VerificationError(f"{STATEMENT}: suite_metrics.{category} is not "
                                    "{suite, metrics_version, crosslab_version}")
    return declared
