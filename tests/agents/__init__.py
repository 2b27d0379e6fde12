"""Tests of the pluggable agent and the chat service."""
