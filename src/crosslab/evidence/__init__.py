"""Evidence packages: a vendor's published bundles with inclusion proofs and a witnessed checkpoint, verified offline."""
