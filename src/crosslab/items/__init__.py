"""Items: one piece of suite content each (schema and JSONL loader), known to the engine without any suite."""
