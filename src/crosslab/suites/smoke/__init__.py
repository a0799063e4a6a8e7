"""The smoke suite: small, harmless items that show every interaction type working."""
