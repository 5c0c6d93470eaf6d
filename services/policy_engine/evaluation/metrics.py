from prometheus_client import Counter, Histogram

DECISIONS = Counter(
    "cortex_policy_decisions_total", "Authorization decisions by outcome.", ["decision"]
)
EVALUATION_SECONDS = Histogram(
    "cortex_policy_authorize_duration_seconds",
    "Time to decide one authorize request in the service (policy, PII, budget).",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
