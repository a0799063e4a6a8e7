"""A report as PDF: the HTML report printed by headless Chromium, exactly as a reader's browser prints it.

The HTML report is self-contained and carries print CSS (page breaks, the
restricted marking on every page of a partner report), so printing it is
the whole conversion: no second layout to keep in step. Chromium is found on
PATH (Debian: ``apt-get install chromium``); without it the export stops
with one line saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from crosslab.core.errors import CrosslabError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 120


class PdfError(CrosslabError, RuntimeError):
    """No browser to print with, or the print failed; the message says which."""


def browser() -> str:
    found = next((p for p in map(shutil.which, BROWSERS) if p), None)
    if found is None:
        raise PdfError("PDF export prints the HTML report with headless Chromium, which is not installed "
                       "(Debian: apt-get install chromium)")
    return found


def html_to_pdf(html: bytes) -> bytes:
    """Print a self-contained HTML document to PDF (A4/Letter per the page's print CSS, no header or footer)."""
    binary = browser()
    with tempfile.TemporaryDirectory(prefix="crosslab-pdf-", ignore_cleanup_errors=True) as tmp:
        source, target = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        source.write_bytes(html)
        args = [binary, "--headless=new", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                "--disable-background-networking", f"--user-data-dir={Path(tmp) / 'profile'}",
                "--no-pdf-header-footer", f"--print-to-pdf={target}", source.as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            done = subprocess.run(args, capture_output=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not finish printing within {TIMEOUT_S} s") from None
        if not target.is_file() or not target.read_bytes().startswith(b"%PDF-"):
            last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise PdfError(f"Chromium did not print the report (exit {done.returncode}: {last})")
        return target.read_bytes()
