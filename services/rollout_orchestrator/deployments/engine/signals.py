"""``session.info`` keys a transaction sets to say what it changed; the process's commit hook
reads them after the commit (wake the reconciler and the record's long-polls, count metrics)."""

RUNS_CHANGED = "rollout.runs_changed"
"""Flag: this transaction changed a run or gave a reading to one."""
AFTER_COMMIT = "rollout.after_commit"
"""List of callables (metric observations) to call once the transaction committed."""
