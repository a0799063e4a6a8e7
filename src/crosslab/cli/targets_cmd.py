"""`crosslab targets`: the providers, and whether their credentials are present."""

from __future__ import annotations

from rich.table import Table

from crosslab.cli.common import console
from crosslab.targets.local_target import resolve_model_path
from crosslab.targets.registry import providers


def targets() -> None:
    """List target providers and whether each one's credentials are set."""
    table = Table(title="Target providers")
    for col in ("provider", "spec example", "credentials", "about"):
        table.add_column(col)
    examples = {"openai": "openai:gpt-4o-mini", "anthropic": "anthropic:claude-sonnet-4-0",
                "google": "google:gemini-2.5-flash", "local": "local:smollm2",
                "baseline": "baseline:refuse-all"}
    for name, provider in providers().items():
        if provider.key_envs:
            found = provider.find_key_env()
            cred = f"[green]{found} set[/]" if found else f"[yellow]set {' or '.join(provider.key_envs)}[/]"
        elif name == "local":
            try:
                resolve_model_path("smollm2")
                cred = "[green]none needed (smollm2 installed)[/]"
            except Exception as exc:  # noqa: BLE001 - shown to the user as-is
                cred = f"[red]{exc}[/]"
        else:
            cred = "[green]none needed[/]"
        table.add_row(name, examples[name], cred, provider.description)
    console.print(table)
