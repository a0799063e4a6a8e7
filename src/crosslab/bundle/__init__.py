"""Result bundles: what an evaluator publishes, and how anyone checks it offline."""
