"""Selective disclosure: commit to values now, reveal chosen ones later.

Published bundles carry salted commitments in place of redacted values; a lab
can open any one of them to a buyer without re-signing the bundle.
"""

from crosslab.disclosure.commitments import (
    Disclosure,
    check_disclosure,
    commitment_of,
    make_disclosure,
    open_disclosure,
)

__all__ = ["Disclosure", "check_disclosure", "commitment_of", "make_disclosure", "open_disclosure"]
