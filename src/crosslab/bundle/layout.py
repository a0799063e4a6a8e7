"""File names and constants of a bundle directory (docs/protocol.md, section 6)."""

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
