"""The agent registry: register, heartbeat, list, and the desired revision (long-poll)."""
