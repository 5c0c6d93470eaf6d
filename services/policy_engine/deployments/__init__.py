"""Deployment plans judged against the effective policy (``POST /v1/deployments/evaluate``)."""
