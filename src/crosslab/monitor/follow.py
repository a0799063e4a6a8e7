"""One look at the log: verify its checkpoint, hold it against every checkpoint seen before, keep the evidence.

The rules (docs/monitor.md):

* a checkpoint must verify under the log key (and carry k trusted
  cosignatures when witnesses are configured), else the log is *misanswering*
  and nothing is claimed;
* two roots for one size are a split view at once;
* a larger checkpoint must come with a valid consistency proof from the
  largest one held; a smaller one with a valid proof up to it. A proof that
  verifies shape but not maths is a split view; a refusal to prove a smaller
  size is a prefix of one the log signed is one too (``shrunk``);
* with ``entries``, the leaves served as tiles must hash to the signed root.

Holding each new checkpoint against the largest one held is enough: every
held checkpoint was proven a prefix of that one when it arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crosslab.attest.merkle import verify_consistency
from crosslab.monitor.client import LogClient
from crosslab.monitor.errors import LogAnswerError, LogUnreachable
from crosslab.monitor.findings import Seen, SplitView, b64
from crosslab.monitor.state import MonitorState, now_ms
from crosslab.transparency import NoteError, NoteVerifier, open_witnessed
from crosslab.transparency.cosignature import CosignerVerifier
from crosslab.transparency.errors import TileFormatError
from crosslab.transparency.tiles import entry_bundle_paths, parse_entry_bundle

__all__ = ["Monitor", "Observation"]


@dataclass(frozen=True)
class Observation:
    """What one poll found: the checkpoint served, whether it was new, a progress line, and any split view."""

    seen: Seen
    new: bool
    line: str
    split: SplitView | None = None


class Monitor:
    """Follows the log behind ``client`` with the trust settings given, remembering in ``state``."""

    def __init__(self, client: LogClient, state: MonitorState, log_key: NoteVerifier,
                 witnesses: Sequence[CosignerVerifier] = (), min_witnesses: int = 0, entries: bool = False) -> None:
        self.client = client
        self.state = state
        self.log_key = log_key
        self.witnesses = list(witnesses)
        self.min_witnesses = min_witnesses
        self.entries = entries

    def poll(self) -> Observation:
        """Fetch, verify and judge the log's latest checkpoint; LogUnreachable/LogAnswerError if it cannot be judged."""
        note = self.client.checkpoint()
        try:
            witnessed = open_witnessed(note, self.log_key, self.witnesses, min_witnesses=self.min_witnesses,
                                       origin=self.state.origin)
        except NoteError as exc:
            raise LogAnswerError(f"checkpoint from {self.client.base_url}/checkpoint does not verify: {exc}") from None
        checkpoint = witnessed.checkpoint
        self.state.bind_origin(checkpoint.origin)
        seen = Seen(checkpoint.size, checkpoint.root, note.decode(), self.client.base_url, now_ms())
        observation = self._judge(seen)
        if observation.split is not None:
            self.state.record_split(observation.split)
            return Observation(observation.seen, observation.new, observation.split.line(), observation.split)
        if self.entries:
            split = self._check_entries()
            if split is not None:
                self.state.record_split(split)
                return Observation(observation.seen, observation.new, split.line(), split)
        return observation

    def _judge(self, seen: Seen) -> Observation:
        for held, consistent in self.state.at_size(seen.size):
            if held.root == seen.root:
                split = None if consistent else self.state.split_for(held.size, held.root)
                return Observation(held, False, f"{held.label()} already held", split)
        for held, consistent in self.state.at_size(seen.size):
            if consistent:
                return Observation(seen, True, "", SplitView("same-size", held, seen, "two signed roots"))
        largest = self.state.largest()
        if largest is None:
            self.state.add(seen, consistent=True)
            return Observation(seen, True, f"{seen.label()} first seen (the first checkpoint held)")
        if largest.size < seen.size:
            split = self._prove(largest, seen, old=largest, new=seen)
        else:
            split = self._prove(largest, seen, old=seen, new=largest)
        if split is not None:
            return Observation(seen, True, split.line(), split)
        self.state.add(seen, consistent=True)
        return Observation(seen, True, f"{seen.label()} first seen (consistent with size {largest.size})")

    def _prove(self, held: Seen, seen: Seen, *, old: Seen, new: Seen) -> SplitView | None:
        """None if the log proves ``old`` is a prefix of ``new``; the split view otherwise."""
        try:
            answer = self.client.consistency(old.size, new.size)
        except LogUnreachable as exc:
            if exc.status == 400 and old is seen:  # the log denies having the larger tree it signed
                return SplitView("shrunk", held, seen, f"asked to prove size {old.size} is a prefix of size "
                                 f"{new.size}, the log refused: {exc}")
            raise
        if verify_consistency(old.size, new.size, old.root, new.root, list(answer.hashes)):
            return None
        said = []
        if old.size and answer.old_root != old.root:
            said.append(f"size {old.size} has root {b64(answer.old_root)}")
        if answer.new_root != new.root:
            said.append(f"size {new.size} has root {b64(answer.new_root)}")
        claim = f" (the proof's answer says {' and '.join(said)})" if said else ""
        return SplitView("inconsistent", held, seen, f"the log's consistency proof from size {old.size} to "
                         f"size {new.size} does not verify{claim}")

    def _check_entries(self) -> SplitView | None:
        """Download the leaves not yet checked, up to the largest held checkpoint, and recompute its root."""
        target = self.state.largest()
        frontier = self.state.frontier()
        if target is None or frontier.size >= target.size:
            return None
        base = None if frontier.size == 0 else next(
            (s for s, ok in self.state.at_size(frontier.size) if ok), None)
        for path, first, width in entry_bundle_paths(frontier.size, target.size):
            try:
                leaves = parse_entry_bundle(self.client.entry_tile(path), width, path)
            except TileFormatError as exc:
                raise LogAnswerError(str(exc)) from None
            frontier.extend(leaves[frontier.size - first:])
        root = frontier.root()
        if root != target.root:
            return SplitView("entries", base, target, f"the log's entries 0..{target.size - 1} (tiles from "
                             f"{self.client.base_url}) hash to {b64(root)}, not the signed root")
        self.state.save_frontier(frontier)
        return None
