"""`crosslab report`: public, partner or joint round reports from bundles (HTML, Markdown, JSON)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from crosslab.cli.bundle_cmd import KeysDir, Keystore, pinned_identities, age_identity_or_exit
from crosslab.cli.common import console, fail


def report(
    bundles: Annotated[list[Path], typer.Argument(help="Bundle directories (one per direction).")],
    keys: KeysDir,
    audience: Annotated[str, typer.Option(help="public | partner | joint.")] = "public",
    lab: Annotated[str | None, typer.Option("--as", help="Partner report: your lab id (decrypts restricted items).")]
    = None,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("reports"),
    formats: Annotated[str, typer.Option("--format", help="Comma-separated: html,md,json,pdf (pdf: the HTML "
                                         "printed by headless Chromium).")] = "html,md,json",
    allow_unverified: Annotated[bool, typer.Option(help="Render bundles that fail verification (marked).")] = False,
    keystore: Keystore = None,
) -> None:
    """Verify the bundles, then render the report; public and joint reports pass the leak scan first."""
    from crosslab.report.bundle_view import load_view
    from crosslab.report.model import build_report
    from crosslab.report.output import (
        FORMATS,
        LeakError,
        attack_texts,
        check_public,
        render_files,
        write_files,
    )

    if audience not in ("public", "partner", "joint"):
        fail(f"--audience must be public, partner or joint, not {audience!r}")
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    if not chosen or any(f not in (*FORMATS, "pdf") for f in chosen):
        fail(f"--format takes a comma-separated subset of {', '.join((*FORMATS, 'pdf'))}")
    pdf = "pdf" in chosen
    chosen = [f for f in chosen if f != "pdf"]
    if pdf and "html" not in chosen:
        chosen.append("html")  # the PDF is the HTML report printed
    if audience == "partner" and not lab:
        fail("a partner report needs --as LAB (your lab, to decrypt the restricted appendix)")
    for bundle in bundles:
        if not bundle.is_dir():
            fail(f"{bundle} is not a bundle directory")
    pinned = pinned_identities(keys)
    partner = age_identity_or_exit(lab if audience == "partner" else None, keystore)
    views = [load_view(b, pinned, partner) for b in bundles]
    failed = [v for v in views if not v.verified]
    if failed and not allow_unverified:
        fail(f"{failed[0].path}: verification failed: {failed[0].problem} "
             "(pass --allow-unverified to render it marked as failed)", code=1)
    data = build_report(views, audience, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))  # type: ignore[arg-type]
    files = render_files(data, f"{audience}-report", chosen)
    if pdf:
        from crosslab.report.pdf import PdfError, html_to_pdf

        try:
            files[f"{audience}-report.pdf"] = html_to_pdf(files[f"{audience}-report.html"])
        except PdfError as exc:
            fail(str(exc), code=1)
    try:
        if audience != "partner":
            check_public(files, extra_texts=[t for b in bundles for t in attack_texts(b)])
    except LeakError as exc:
        fail(str(exc), code=1)
    # a partner report carries restricted items: readable by its owner only, whatever the umask
    for path in write_files(out, files, private=audience == "partner"):
        console.print(f"wrote {path}", soft_wrap=True, highlight=False)
