"""Fuzz the verifier with random hostile edits: it fails closed with one VerificationError, never anything else.

Bounded here (a few hundred edits); bench/fuzz_verify.py runs the same edits for longer.
"""

from __future__ import annotations

import random
import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.mutations import FILES, mutate
from support.release_bundles import BUNDLES, FIXTURES, borealis_age, pinned

from crosslab.attest.errors import VerificationError
from crosslab.bundle.installed import installed_definitions
from crosslab.bundle.verify import verify_bundle

DEFINITIONS = installed_definitions()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), edits=st.integers(1, 3))
def test_random_edits_fail_closed(tmp_path_factory, seed: int, edits: int):
    bundle = tmp_path_factory.mktemp("fuzz") / "bundle"
    shutil.copytree(FIXTURES / BUNDLES[0], bundle)
    rng = random.Random(seed)
    done = [mutate(bundle, rng) for _ in range(edits)]
    try:
        verify_bundle(bundle, pinned(), partner_identity=borealis_age(), metric_definitions=DEFINITIONS)
    except VerificationError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\x1b" not in message, (done, message)
        return
    # an edit can leave the bytes as they were (a truncation at the end, a flip undone by another)
    assert all((bundle / n).read_bytes() == (FIXTURES / BUNDLES[0] / n).read_bytes() for n in FILES), done
