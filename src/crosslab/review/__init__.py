"""Human adjudication: export the verdicts a grader was unsure of to a sheet, import reviewers' labels signed.

``sheet`` writes and reads the reviewers' sheet (what each reviewer tier may
see is in ``visibility``; which verdicts need a person is in ``flags``).
``importing`` turns filled rows into an adjudication statement
(``statement``) that the reviewing lab signs (``signing``, with the key
``signer`` finds); ``store`` keeps the signed files in the run directory and
checks them against the run (``runview``), and ``apply`` gives the verdicts
with adjudications applied, provenance kept. A reviewed label is scored by
its grader's own rule (``scoring``). See docs/review.md.
"""
