"""REST blueprints: thin views that parse with a schema, call a service, dump with a schema."""
