"""Deployment runs: create (policy-judged, snapshotted), drive batch by batch (the reconciler),
control (pause, resume, abort, rollback), and the one record of each."""
