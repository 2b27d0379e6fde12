"""Session store backend: models, services and the REST API."""
