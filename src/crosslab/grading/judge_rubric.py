"""Judge rubrics as data: what a judge is asked, which labels it may give, and the answer it must write.

Each rubric is a YAML file in ``grading/rubrics/`` with an id, a version, its
labels (each with what it means), the inputs it reads, the fields of the JSON
answer the judge must end with, how the label follows from that answer, and
the prompt. The prompt is a template: ``{{material}}`` becomes every given
input in its own fenced block (``judge_delimit``), ``{{labels}}`` the label
list, ``{{format}}`` the answer format. Prompts live in data so that changing
one is a visible change of a versioned file; the rubric digest (SHA-256 of
its canonical JSON) goes into every judge verdict and grader card.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crosslab.core.canonical import digest
from crosslab.core.errors import CrosslabError
from crosslab.grading import judge_delimit
from crosslab.core.validation import first_problem

Message = dict[str, Any]
_NAME = r"^[a-z][a-z0-9_]{0,40}$"
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
BUILTINS = ("material", "labels", "format")


class RubricError(CrosslabError, ValueError):
    """A rubric file, or a judge input, that does not fit the rubric; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class InputSpec(_Strict):
    name: str = Field(pattern=_NAME)
    #: text: a string; transcript: a list of {role, content} turns; list: a list of strings.
    kind: Literal["text", "transcript", "list"] = "text"
    required: bool = True
    title: str = Field(min_length=1)  # how the prompt introduces the block


class FieldSpec(_Strict):
    type: Literal["label", "bool", "int"]
    min: int | None = None
    max: int | None = None
    about: str = ""


class Scoring(_Strict):
    #: label: the answer's ``label`` field is the label. strongreject: the label follows from
    #: the StrongREJECT score computed in code (``grading.judge.strongreject_score``).
    kind: Literal["label", "strongreject"]
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    above: str | None = None  # strongreject: label when not refused and score >= threshold
    below: str | None = None  # strongreject: label otherwise


class Rubric(_Strict):
    id: str = Field(pattern=_NAME)
    version: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$")
    about: str = Field(min_length=1)
    labels: dict[str, str] = Field(min_length=2)  # label -> what it means
    inputs: tuple[InputSpec, ...] = Field(min_length=1)
    one_of: tuple[tuple[str, ...], ...] = ()  # groups of optional inputs of which at least one must be given
    answer: dict[str, FieldSpec] = Field(min_length=1)
    scoring: Scoring
    system: str = Field(min_length=1)
    user: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        names = [i.name for i in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"input names repeat: {names}")
        for label in self.labels:
            if not re.fullmatch(_NAME, label) or label == "unscored":
                raise ValueError(f"label {label!r} must be a lower-case name other than 'unscored'")
        for group in self.one_of:
            for name in group:
                if name not in names or next(i for i in self.inputs if i.name == name).required:
                    raise ValueError(f"one_of names {name!r}, which is not an optional input")
        for key, spec in self.answer.items():
            if not re.fullmatch(_NAME, key):
                raise ValueError(f"answer field {key!r} is not a lower-case name")
            if spec.type == "int" and (spec.min is None or spec.max is None or spec.min > spec.max):
                raise ValueError(f"answer field {key!r}: an int needs min <= max")
        s = self.scoring
        if s.kind == "label":
            if [k for k, v in self.answer.items() if v.type == "label"] != ["label"]:
                raise ValueError("scoring 'label' needs exactly one answer field, 'label', of type label")
        else:
            want = {"refused": "bool", "convincing": "int", "specific": "int"}
            if {k: v.type for k, v in self.answer.items()} != want:
                raise ValueError(f"scoring 'strongreject' needs the answer fields {want}")
            if s.threshold is None or {s.above, s.below} != set(self.labels):
                raise ValueError("scoring 'strongreject' needs a threshold and above/below naming the two labels")
        for text in (self.system, self.user):
            for name in _PLACEHOLDER.findall(text):
                if name not in BUILTINS:
                    raise ValueError(f"unknown placeholder {{{{{name}}}}} (known: {', '.join(BUILTINS)})")
        if "{{material}}" not in self.user:
            raise ValueError("the user template must contain {{material}}")
        return self

    @property
    def digest(self) -> str:
        """SHA-256 of the rubric's canonical JSON: any change of prompt, labels or format changes it."""
        return digest(self.model_dump(mode="json"))

    def ref(self) -> dict[str, str]:
        """How verdicts and cards name this rubric."""
        return {"id": self.id, "version": self.version, "digest": self.digest}

    # -- inputs --------------------------------------------------------------
    def check_inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The inputs this rubric reads, type-checked; RubricError names the first problem."""
        out: dict[str, Any] = {}
        for spec in self.inputs:
            value = inputs.get(spec.name)
            if value is None:
                if spec.required:
                    raise RubricError(f"rubric {self.id}: input {spec.name!r} is required")
                continue
            ok = (isinstance(value, str) if spec.kind == "text" else
                  isinstance(value, list) and all(isinstance(v, str) for v in value) if spec.kind == "list" else
                  isinstance(value, list) and all(isinstance(v, dict) for v in value))
            if not ok:
                kind = {"text": "a string", "list": "a list of strings",
                        "transcript": "a list of {role, content} objects"}[spec.kind]
                raise RubricError(f"rubric {self.id}: input {spec.name!r} must be {kind}")
            out[spec.name] = value
        for group in self.one_of:
            if not any(name in out for name in group):
                raise RubricError(f"rubric {self.id}: give one of {', '.join(repr(n) for n in group)}")
        return out

    # -- rendering -------------------------------------------------------------
    def render(self, inputs: Mapping[str, Any], nonce: str) -> RenderedRequest:
        """The judge's messages for these inputs, every input fenced with ``nonce``."""
        given = self.check_inputs(inputs)
        blocks: list[str] = []
        neutralised = 0
        for spec in self.inputs:
            if spec.name not in given:
                continue
            value = given[spec.name]
            if spec.kind == "transcript":
                try:
                    block, n = judge_delimit.fence_transcript(spec.name, nonce, value)
                except ValueError as exc:
                    raise RubricError(f"rubric {self.id}: {exc}") from exc
            else:
                text = value if spec.kind == "text" else "\n".join(f"- {v}" for v in value)
                block, n = judge_delimit.fence(spec.name, nonce, text)
            neutralised += n
            blocks.append(f"{spec.title}:\n{block}")
        values = {"material": "\n\n".join(blocks), "labels": self._labels_text(), "format": self.format_text()}
        messages = [{"role": "system", "content": _fill(self.system, values)},
                    {"role": "user", "content": _fill(self.user, values)}]
        return RenderedRequest(messages, nonce, neutralised)

    def _labels_text(self) -> str:
        return "\n".join(f"- {label}: {meaning}" for label, meaning in self.labels.items())

    def format_text(self) -> str:
        """The answer line the judge must end with, and what each field means."""
        shapes = {}
        notes = []
        for key, spec in self.answer.items():
            if spec.type == "label":
                shapes[key] = '"..."'
                notes.append(f"- {key}: exactly one of {', '.join(self.labels)}")
            elif spec.type == "bool":
                shapes[key] = "true or false"
            else:
                shapes[key] = f"an integer from {spec.min} to {spec.max}"
            if spec.about:
                notes.append(f"- {key}: {spec.about}")
        line = "{" + ", ".join(f'"{k}": {v}' for k, v in shapes.items()) + "}"
        return "\n".join([f"End your reply with one line holding only this JSON object:\n{line}", *notes])


@dataclass(frozen=True)
class RenderedRequest:
    """What is sent to the judge for one call, with the nonce its fences carry."""
    messages: list[Message]
    nonce: str
    neutralised: int  # characters changed in the inputs so no marker could be forged


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def parse_rubric(data: Any, source: str) -> Rubric:
    """A rubric from parsed YAML; RubricError names the source and the first problem."""
    if not isinstance(data, dict):
        raise RubricError(f"rubric {source} must hold a mapping")
    data = {**data, "inputs": tuple(data.get("inputs") or ()),
            "one_of": tuple(tuple(g) for g in data.get("one_of") or () if isinstance(g, list))}
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(f"rubric {source}: {first_problem(exc)}") from None


@cache
def rubrics() -> dict[str, Rubric]:
    """The built-in rubrics, by id."""
    found: dict[str, Rubric] = {}
    folder = resources.files("crosslab.grading").joinpath("rubrics")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        try:
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise RubricError(f"rubric {entry.name} is not valid YAML: {exc}") from None
        rubric = parse_rubric(data, entry.name)
        if f"{rubric.id}.yaml" != entry.name:
            raise RubricError(f"rubric {entry.name} has id {rubric.id!r}; the file must be named after it")
        found[rubric.id] = rubric
    return found


def get_rubric(rubric_id: str) -> Rubric:
    table = rubrics()
    if rubric_id not in table:
        raise RubricError(f"no judge rubric {rubric_id!r} (available: {', '.join(table)})")
    return table[rubric_id]
