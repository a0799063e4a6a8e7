"""The installed crosslab version, recorded in journals and statements."""

__version__ = "0.1.0"
