"""The public registry: accepted submissions, published as leaves of a signed transparency log."""
