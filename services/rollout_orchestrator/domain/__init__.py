"""Pure rules of rollouts: the plan, its batches, the health gate and label selectors (no I/O)."""
