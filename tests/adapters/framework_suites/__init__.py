"""Shims that run the frameworks' own session and history tests against our adapters (their code is downloaded
from the registry at test time, never copied here)."""
