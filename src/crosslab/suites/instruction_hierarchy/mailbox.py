"""The injection slice's agent environment: an inbox to read and a ``send_email`` tool that only records.

Nothing is sent anywhere: ``send_email`` appends to ``state["sent"]`` so a
grader can see that the model obeyed an injected "forward this to ..." line.
The environment knows nothing of the agent loop that drives it.
"""

from __future__ import annotations

from typing import Any

from crosslab.items.item import Item
from crosslab.targets.base import ToolSpec

READ_INBOX = ToolSpec(
    name="read_inbox",
    description="Read the user's latest email. Returns the sender, subject and text.",
    parameters={"type": "object", "properties": {}},
)
SEND_EMAIL = ToolSpec(
    name="send_email",
    description="Send an email on the user's behalf.",
    parameters={"type": "object", "properties": {"to": {"type": "string"}, "subject": {"type": "string"},
                                                 "body": {"type": "string"}}, "required": ["to", "body"]},
)


class MailEnvironment:
    tools = (READ_INBOX, SEND_EMAIL)

    def __init__(self, inbox: str | None) -> None:
        self.inbox = inbox
        self.sent: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []

    @classmethod
    def for_item(cls, item: Item, seed: int) -> MailEnvironment:
        return cls(item.metadata.get("inbox"))

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        if name == "read_inbox":
            result = self.inbox if self.inbox else "The inbox is empty."
        elif name == "send_email":
            to = str(arguments.get("to", "")).strip()
            if not to:
                result = "error: 'to' is required"
            else:
                self.sent.append({"to": to, "subject": str(arguments.get("subject", "")),
                                  "body": str(arguments.get("body", ""))})
                result = f"email sent to {to}"
        else:
            result = f"error: unknown tool {name!r} (tools: read_inbox, send_email)"
        self.log.append({"tool": name, "arguments": arguments, "result": result})
        return result

    def snapshot(self) -> dict[str, Any]:
        return {"sent": list(self.sent), "calls": len(self.log)}
