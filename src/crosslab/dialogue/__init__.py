"""How a sample's conversation unfolds, written against a small ``Dialogue`` interface.

Interactions (single turn, scripted turns, an agent loop, or one a suite adds)
only ask the model for replies and take a fresh tool environment; the engine
supplies both, with retries, pacing and cost accounting. Suites can therefore
define their own interactions without knowing the engine.
"""
