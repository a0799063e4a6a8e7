"""Judge models: rubric requests sent to a judge ``Target`` through the engine's caller, cache and journal.

This package sits above ``engine`` and below ``run``: it needs the engine's
retries, cache and journal, and graders below it only ever receive the
``JudgeFn`` it hands out (``grading.judge``).
"""
