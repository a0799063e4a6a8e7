"""Tool environments for agentic items: state and tools, separate from any agent loop."""
