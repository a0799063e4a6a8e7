"""The root of crosslab's own errors."""

from __future__ import annotations


class CrosslabError(Exception):
    """Something crosslab refuses or could not do; the message says what, in one line fit for a user.

    Every error class crosslab defines for its callers derives from it, so a
    caller (the CLI above all) can catch them all with one ``except
    CrosslabError``. Each keeps the built-in base it had before, so existing
    ``except ValueError`` / ``except RuntimeError`` handlers still catch it::

        CrosslabError                          core/errors.py
        ├── ValueError: bad input (a file, an id, evidence that does not check out)
        │   ├── StrictJSONError                core/strictjson.py     a signed JSON document that is not strict JSON
        │   ├── VerificationError              attest/errors.py       a signature, proof or commitment fails
        │   ├── ItemsError                     items/loader.py        an items file or suite that cannot be read
        │   ├── IdentityError                  identity/keys.py       a lab id or identity file fails a check
        │   ├── KeystoreError                  identity/keystore.py   a missing, unsafe or damaged keystore entry
        │   │   └── LabExistsError             identity/keystore.py   creating keys for a lab that has them
        │   ├── EncryptionError                disclosure/encryption.py  age encryption or decryption failed
        │   ├── SealedPromptError              disclosure/sealed_prompt.py  a sealed system prompt that cannot be made or opened
        │   ├── DeploymentError                targets/deployment.py  a target spec that cannot be parsed
        │   ├── ProtocolError                  protocol/schema.py     a protocol file that cannot be loaded
        │   ├── BundleError                    bundle/writer.py       a bundle that cannot be written
        │   ├── RevealError                    bundle/reveal.py       a reveal that cannot be made
        │   ├── RoundError                     round/share.py         a round that is not ready or not ours
        │   ├── PromptError                    round/prompts.py       a sealed prompt that does not fit the protocol, or one missing
        │   ├── RubricError                    grading/judge_rubric.py  a judge rubric file or judge input that does not fit
        │   ├── CardError                      grading/card.py        a grader card that cannot be read or does not check out
        │   ├── JudgeUnscored                  grading/judge.py       a judge reply that did not parse where a rubric is needed
        │   ├── ReviewError                    review/errors.py       a review sheet or adjudication that cannot be used
        │   ├── LeakError                      report/output.py       a public report would leak restricted text
        │   ├── ArchiveError                   registry/archive.py    an uploaded bundle archive that is not a closed set
        │   ├── SubmissionError                registry/submission.py a submission the registry refuses (the reason)
        │   ├── DatabaseError                  registry/db.py         a database URL the registry cannot use
        │   ├── NoteError                      transparency/errors.py  a signed note, checkpoint or cosignature that does not verify
        │   ├── TileFormatError                transparency/errors.py  a tile path or entry bundle off the tlog-tiles grammar
        │   ├── InteropError                   interop/errors.py      an Inspect log or dataset file that cannot be read or written
        │   ├── AttackRunError                 run/attack.py          an attack run that cannot start or resume as asked
        │   ├── NotComparable                  results/attack_compare.py  two attack runs that differ in more than the target
        │   ├── BookError                      tier2/book.py          a tier-2 serve directory that cannot be planned or opened
        │   ├── RoundError (tier 2)            tier2/round.py         a one-machine tier-2 round that cannot start or finish
        │   ├── CatalogError                   tier2/catalog.py       a selection that names no servable item
        │   └── EvidenceError                  evidence/errors.py     an evidence package that does not verify or cannot be made
        │       └── NotFound                   evidence/fetch.py      the registry has no such vendor, entry or file
        ├── RuntimeError: the environment
        │   ├── JournalError                   engine/journal.py      a run journal that cannot be opened or used
        │   ├── CircuitOpen                    engine/breaker.py      a run stopped: samples in a row could not reach the target
        │   ├── RayUnavailable                 run/ray_executor.py    Ray is not installed, or its cluster cannot be reached
        │   ├── PdfError                       report/pdf.py          no Chromium to print a report with, or the print failed
        │   ├── CredentialsError               targets/registry.py    a provider's API key is missing
        │   ├── LogError                       registry/tlog/errors.py  the transparency log fails its checks
        │   │   ├── LogRequestError (also ValueError)                 a malformed tile path, index or entry
        │   │   └── TileNotFound (also LookupError)                   a tile or checkpoint not published yet
        │   ├── CosignError                    registry/cosigning.py  a witness did not cosign (down, refused, bad answer)
        │   ├── StateError                     witness/state.py       a witness state file that cannot be used
        │   └── MonitorError                   monitor/errors.py      a monitor state file that is unusable or follows another log
        │       ├── LogUnreachable             monitor/errors.py      a log that did not answer
        │       └── LogAnswerError             monitor/errors.py      a log answer that does not parse or verify
        ├── Refusal                            witness/witness.py     a checkpoint the witness will not cosign (an HTTP status)
        ├── UnknownLab (also LookupError)      registry/records.py    no entry of the log names that lab
        ├── TokenRefused (also PermissionError)  tier2/book.py        a rollout token that opens nothing now
        ├── ToolRefused                        tier2/rollout.py       a tool call a rollout does not accept (an MCP error result)
        ├── AttackCallError                    attacks/calls.py       an attacker, judge or target call that failed for good
        ├── OutOfBudget                        attacks/episode.py     a role's query budget is spent (ends one attack; caught)
        ├── TargetError                        targets/base.py        one failed model call, classified by kind
        └── SampleError                        engine/caller.py       a call that failed for good (no retries left)

    Not crosslab errors, on purpose: the sandbox's ``FsError``, ``ToolInputError``
    and ``ShellSyntaxError`` (``sandbox/``) are failures *inside* a simulated
    environment; they become tool output for the model under test and never
    reach a user.
    """
