"""Lab identities: public identity files (keys.py) and the private keystore (keystore.py)."""

from crosslab.identity.keys import (
           IdentityError,
           PublicIdentity,
           check_lab_id,
           load_identity,
           write_identity,
)
from crosslab.identity.keystore import (
           Keystore,
           KeystoreError,
           LabExistsError,
           default_keystore_dir,
)

__all__ = ["IdentityError", "Keystore", "KeystoreError", "LabExistsError", "PublicIdentity", "check_lab_id",
           "default_keystore_dir", "load_identity", "write_identity"]
