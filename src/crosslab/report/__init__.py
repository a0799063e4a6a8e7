"""Reports rendered from verified bundles (never from raw journals): public, partner and joint round."""
