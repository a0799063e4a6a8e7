"""crosslab: cross-lab AI safety evaluation with verifiable, redacted publication."""

from crosslab.core.version import __version__

__all__ = ["__version__"]
