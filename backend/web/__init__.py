"""What HTTP needs around the resources: auth, rate limits, the error map, middleware, docs, /metrics."""
