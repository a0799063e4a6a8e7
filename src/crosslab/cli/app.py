"""The `crosslab` command."""

from __future__ import annotations

import typer

from crosslab.core.version import __version__
from crosslab.cli.bundle_cmd import app as bundle_app
from crosslab.cli.bundle_cmd import reveal, verify
from crosslab.cli.compare_cmd import compare, plan
from crosslab.cli.demo_cmd import demo
from crosslab.cli.disclosure_cmd import app as disclosure_app
from crosslab.cli.evidence_cmd import app as evidence_app
from crosslab.cli.grade_cmd import grade
from crosslab.cli.interop_cmd import export_app, import_app
from crosslab.cli.judge_cmd import app as judge_app
from crosslab.cli.keys_cmd import app as keys_app
from crosslab.cli.monitor_cmd import monitor
from crosslab.cli.protocol_cmd import app as protocol_app
from crosslab.cli.registry_cmd import app as registry_app
from crosslab.cli.report_cmd import report
from crosslab.cli.review_cmd import app as review_app
from crosslab.cli.round_cmd import app as round_app
from crosslab.cli.run import run
from crosslab.cli.suites_cmd import suites
from crosslab.cli.targets_cmd import targets
from crosslab.cli.witness_cmd import app as witness_app

app = typer.Typer(
    name="crosslab",
    help="Cross-lab AI safety evaluation: run agreed suites against model APIs and publish verifiable results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(demo)
app.command()(run)
app.command()(targets)
app.command()(compare)
app.command()(plan)
app.command()(suites)
app.command()(grade)
app.add_typer(keys_app, name="keys")
app.add_typer(protocol_app, name="protocol")
app.add_typer(bundle_app, name="bundle")
app.add_typer(round_app, name="round")
app.command()(verify)
app.command()(reveal)
app.command()(report)
app.add_typer(disclosure_app, name="disclosure")
app.add_typer(judge_app, name="judge")
app.add_typer(review_app, name="review")
app.add_typer(registry_app, name="registry")
app.add_typer(evidence_app, name="evidence")
app.command()(monitor)
app.add_typer(witness_app, name="witness")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")


@app.command()
def version() -> None:
    """Print the crosslab version."""
    typer.echo(__version__)


def main() -> None:
    app()
