"""A Deployment: what is being evaluated, as data.

A lab evaluates a *deployment*, not a bare model name: the same model behind a
different system prefix or temperature is a different system. The digest (the
SHA-256 of the canonical JSON of the fields that shape outputs) names it in
sample ids, journals and bundles. Operational knobs (rate limits, timeouts)
don't change what the model says, so they stay out of the digest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crosslab.core.canonical import digest
from crosslab.core.errors import CrosslabError
from crosslab.core.yamlfile import read_yaml_mapping
from crosslab.core.validation import first_problem


class Limits(BaseModel):
    """How hard to drive the endpoint. Not part of the deployment's identity."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int = Field(8, ge=1, le=10_000)
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0, le=50)
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_cap_s: float = Field(30.0, ge=0)


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["openai", "anthropic", "google", "local", "baseline", "function"]
    model: str = Field(min_length=1)
    base_url: str | None = None
    system_prefix: str | None = None
    #: A confidential system prompt: the protocol carries only this salted commitment (the hex SHA-256 of
    #: a disclosure, disclosure/commitments.py); the evaluator is handed the prompt sealed to its key and
    #: fills in ``system_prefix`` before running. The commitment, not the prompt, is then part of the digest.
    system_prefix_commitment: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    #: None sends no temperature (the provider's default; newer Claude models accept only that).
    temperature: float | None = Field(0.0, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1)
    seed: int | None = 0
    #: Name of the environment variable holding the API key; never the key itself.
    api_key_env: str | None = None
    #: OpenAI-compatible targets only: "aiohttp" (direct, fast) or "sdk" (the official openai client).
    transport: Literal["aiohttp", "sdk"] = "aiohttp"
    limits: Limits = Field(default_factory=Limits)

    def identity(self) -> dict[str, Any]:
        """The fields that define the deployment (not limits, key variable or HTTP transport).

        A committed prompt is named by its commitment alone, so the evaluator's digest (prompt filled in)
        equals the one everybody derives from the public protocol (commitment only). Without one, the
        field is left out, so deployments keep the digests they had before commitments existed."""
        hidden = {"system_prefix"} if self.system_prefix_commitment else {"system_prefix_commitment"}
        return self.model_dump(exclude={"limits", "api_key_env", "transport", *hidden}, mode="json")

    @property
    def prompt_missing(self) -> bool:
        """The protocol commits to a confidential system prompt that has not been filled in here."""
        return self.system_prefix_commitment is not None and self.system_prefix is None

    @property
    def digest(self) -> str:
        return digest(self.identity())

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}"


class DeploymentError(CrosslabError, ValueError):
    """A target spec or YAML file that cannot be turned into a Deployment."""


def load_deployment_yaml(path: Path) -> dict[str, Any]:
    return read_yaml_mapping(path, "target file", DeploymentError)


def build_deployment(fields: dict[str, Any], source: str) -> Deployment:
    try:
        return Deployment.model_validate(fields)
    except ValidationError as exc:
        raise DeploymentError(f"{source}: {first_problem(exc)}") from exc
