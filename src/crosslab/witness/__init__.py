"""A witness: checks that each new checkpoint of a log extends the last one it saw, then cosigns it (C2SP tlog-witness).

``Witness`` (witness.py) does the checks, ``WitnessState`` (state.py) keeps
the latest cosigned checkpoint per log, ``create_app`` (app.py) serves
``POST /add-checkpoint``. docs/witness.md says what is checked and why.
"""

from crosslab.witness.state import Latest, StateError, WitnessState
from crosslab.witness.witness import Refusal, Witness

__all__ = ["Latest", "Refusal", "StateError", "Witness", "WitnessState"]
