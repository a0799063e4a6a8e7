"""Tier 2: scenarios served over MCP to labs' internal agents, which never leave the lab (docs/tier2.md)."""
