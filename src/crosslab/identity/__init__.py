"""Lab identities: public identity files (``keys``) and the private keystore (``keystore``).

Nothing is re-exported here, so a verifier that needs only public identities
never loads the keystore.
"""
