"""The one error every crosslab verifier raises.

Verifiers fail closed: anything that does not check out raises
``VerificationError`` with a message naming exactly what did not match, so a
buyer (or a CLI) can show it as is. It subclasses ``ValueError`` because bad
evidence is bad input.
"""

from __future__ import annotations

from crosslab.core.errors import CrosslabError


class VerificationError(CrosslabError, ValueError):
    """Evidence (an envelope, statement, proof or disclosure) failed to verify."""
