"""The agent environment of the citations slice: one ``search_corpus`` tool over the closed corpus.

The environment knows nothing of the agent loop that drives it (ours today, an
external agent over MCP later). Its log records every query and the ids it
returned, so a grader can tell a cited id the model saw from one it never saw.
"""

from __future__ import annotations

from typing import Any

from crosslab.suites.hallucination.corpus import Corpus, corpus, search
from crosslab.items.item import Item
from crosslab.targets.base import ToolSpec

SEARCH_TOOL = ToolSpec(
    name="search_corpus",
    description="Search the Orlavia document collection. Returns up to 3 documents, each with its id, "
                "title and text.",
    parameters={"type": "object", "properties": {"query": {"type": "string", "description": "search words"}},
                "required": ["query"]},
)


class CorpusEnvironment:
    tools = (SEARCH_TOOL,)

    def __init__(self, docs: Corpus) -> None:
        self.corpus = docs
        self.log: list[dict[str, Any]] = []

    @classmethod
    def for_item(cls, item: Item, seed: int) -> CorpusEnvironment:
        return cls(corpus())

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        returned: list[str] = []
        if name != "search_corpus":
            result = f"error: unknown tool {name!r} (the only tool is search_corpus)"
        else:
            query = str(arguments.get("query", "")).strip()
            hits = search(self.corpus, query)
            returned = [d.id for d in hits]
            result = ("\n\n".join(f"[{d.id}] {d.title}\n{d.text}" for d in hits)
                      if hits else f"no documents match {query!r}")
        self.log.append({"tool": name, "arguments": arguments, "returned": returned})
        return result

    def snapshot(self) -> dict[str, Any]:
        seen = sorted({i for entry in self.log for i in entry["returned"]})
        return {"searches": len(self.log), "seen": seen}
