"""Interop: Inspect logs out and in, public dataset files in, results out in formats other tools open."""
