"""The deployments API over HTTP: routes, their dependencies, the record, its long-poll."""
