"""What moves runs: the transitions and steps (driving), the reconciler loop, its metrics."""
