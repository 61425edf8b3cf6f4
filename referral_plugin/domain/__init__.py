"""The pure domain: events, codes, programs, the rules engine and reward lifecycle.

Standard library only; tests/unit/test_architecture.py enforces it.
"""
