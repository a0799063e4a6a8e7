"""Targets: deployed systems behind one async interface, one module per provider.

``deployment`` says what is evaluated (and is all a verifier needs); ``base`` is
the interface; ``registry`` turns a spec into an adapter, importing provider SDKs
only when used.
"""
