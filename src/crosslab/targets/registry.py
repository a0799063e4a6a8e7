"""Provider registry: turn a target spec into a Deployment, and a Deployment into a Target.

A spec is either ``provider:model`` (``openai:gpt-4o-mini``, ``local:smollm2``,
``local:/models/x.gguf``, ``baseline:refuse-all``) or the path of a YAML file
holding a Deployment. Adapters are imported lazily so a missing optional SDK
only matters to someone who uses that provider.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from crosslab.core.errors import CrosslabError
from crosslab.targets.base import Target
from crosslab.targets.deployment import (
    Deployment,
    DeploymentError,
    Limits,
    build_deployment,
    load_deployment_yaml,
)


@dataclass(frozen=True)
class Provider:
    name: str
    adapter: str  # "module:Class"
    key_envs: tuple[str, ...]  # accepted API-key variables, first found wins
    description: str

    def find_key_env(self, preferred: str | None = None) -> str | None:
        names = (preferred,) if preferred else self.key_envs
        return next((n for n in names if n and os.environ.get(n)), None)


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in [
        Provider("openai", "crosslab.targets.openai_target:OpenAITarget", ("OPENAI_API_KEY",),
                 "OpenAI or any OpenAI-compatible server (--base-url / OPENAI_BASE_URL)"),
        Provider("anthropic", "crosslab.targets.anthropic_target:AnthropicTarget",
                 ("ANTHROPIC_API_KEY",), "Anthropic Messages API"),
        Provider("google", "crosslab.targets.google_target:GoogleTarget",
                 ("GOOGLE_API_KEY", "GEMINI_API_KEY"), "Google Gemini API (google-genai)"),
        Provider("local", "crosslab.targets.local_target:LocalTarget", (),
                 "GGUF model in-process via llama-cpp-python; 'smollm2' ships with crosslab"),
    ]
}

#: Providers that live above this layer (the ``baseline`` calibration organisms, external
#: packages) register through this entry-point group; each entry point names a ``Provider``.
PROVIDER_ENTRY_POINTS = "crosslab.providers"


@cache
def providers() -> dict[str, Provider]:
    """The built-in providers plus every registered one, by name."""
    found = dict(PROVIDERS)
    for entry in entry_points(group=PROVIDER_ENTRY_POINTS):
        provider = entry.load()
        if not isinstance(provider, Provider) or provider.name in found:
            raise DeploymentError(f"entry point {entry.value!r} in {PROVIDER_ENTRY_POINTS} is not a new Provider")
        found[provider.name] = provider
    return found


#: In-process providers answer one call at a time; more workers would only queue.
SERIAL_PROVIDERS = frozenset({"local"})


def parse_target(spec: str, overrides: dict[str, Any] | None = None) -> Deployment:
    """Build a Deployment from a spec string or YAML path plus command-line overrides."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    path = Path(spec)
    if spec.endswith((".yaml", ".yml")) or (path.suffix == "" and path.is_file()):
        fields = load_deployment_yaml(path)
        source = f"target file {spec}"
    else:
        provider, sep, model = spec.partition(":")
        if not sep or not model:
            raise DeploymentError(
                f"target {spec!r} must look like provider:model (e.g. openai:gpt-4o-mini) "
                "or be a YAML file"
            )
        fields = {"provider": provider, "model": model}
        source = f"target {spec!r}"
    if fields.get("system_prefix_commitment") is not None:  # nothing here could check a prompt against it
        raise DeploymentError(f"{source}: system_prefix_commitment belongs in a round's protocol; a confidential "
                              "prompt runs through `crosslab round run --sealed-prompt`, which checks it against "
                              "its commitment")
    if fields.get("provider") not in providers():
        known = ", ".join(providers())
        raise DeploymentError(f"{source}: unknown provider {fields.get('provider')!r} (known: {known})")
    limits = dict(fields.get("limits") or {})
    if fields["provider"] in SERIAL_PROVIDERS:
        limits.setdefault("concurrency", 1)
    for key in Limits.model_fields:
        if key in overrides:
            limits[key] = overrides.pop(key)
    fields = {**fields, **overrides, "limits": limits}
    if fields["provider"] == "openai" and not fields.get("base_url") and os.environ.get("OPENAI_BASE_URL"):
        fields["base_url"] = os.environ["OPENAI_BASE_URL"]
    return build_deployment(fields, source)


class CredentialsError(CrosslabError, RuntimeError):
    """The API key a provider needs is not in the environment."""


#: Hosts that always need a real key: sending the keyless placeholder there only earns the provider's
#: "Incorrect API key provided", which sends a lab hunting for a wrong key instead of a missing one.
KEYED_HOSTS = frozenset({"api.openai.com"})


def _keyless_server(deployment: Deployment) -> bool:
    """An OpenAI-compatible server of the lab's own (llama.cpp, vLLM) that may need no key at all."""
    from urllib.parse import urlsplit

    if deployment.provider != "openai" or not deployment.base_url or deployment.api_key_env:
        return False
    return (urlsplit(deployment.base_url).hostname or "").lower() not in KEYED_HOSTS


def resolve_api_key(deployment: Deployment) -> str | None:
    """Read the deployment's API key from the environment (keys never live in files).

    A missing key is named ("OPENAI_API_KEY is not set") before any request is
    made. Only an OpenAI-compatible server on a custom base URL, with no
    ``api_key_env`` named, may go without one: it gets a placeholder, as the
    SDK requires one.
    """
    provider = providers()[deployment.provider]
    if not provider.key_envs and not deployment.api_key_env:
        return None
    env = provider.find_key_env(deployment.api_key_env)
    if env:
        return os.environ[env]
    if _keyless_server(deployment):
        return "not-needed"
    wanted = deployment.api_key_env or " or ".join(provider.key_envs)
    raise CredentialsError(f"{wanted} is not set: {deployment.label} needs it (API keys are read only from "
                           "the environment; export it and run again)")


def create_target(deployment: Deployment) -> Target:
    """Instantiate the adapter for a deployment; raises CredentialsError or DeploymentError."""
    if deployment.prompt_missing:  # never evaluate a different system than the one agreed
        raise DeploymentError(f"{deployment.label} has a confidential system prompt (commitment "
                              f"{deployment.system_prefix_commitment[:16]}…) that was not supplied: pass the "
                              "sealed prompt its lab gave you (`round run --sealed-prompt FILE`)")
    provider = providers()[deployment.provider]
    api_key = resolve_api_key(deployment)
    adapter = provider.adapter
    if deployment.provider == "openai" and deployment.transport == "sdk":
        adapter = "crosslab.targets.openai_target:OpenAISDKTarget"
    module_name, _, class_name = adapter.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(deployment, api_key=api_key)


__all__ = ["PROVIDERS", "Provider", "providers", "CredentialsError", "DeploymentError", "create_target", "parse_target"]
