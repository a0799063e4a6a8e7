"""The engine: plan samples, run them against a target, journal every result."""
