"""Statistics for crosslab reports: intervals, paired comparisons, multiplicity, power.

Each module holds one idea; see docs/statistics.md for what they mean to a reader.
"""
