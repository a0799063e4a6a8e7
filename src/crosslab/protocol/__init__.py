"""Protocol layer: canonical encodings and (later) the signed methodology."""
