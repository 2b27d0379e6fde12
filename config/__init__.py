"""Configuration: settings read from the environment."""
