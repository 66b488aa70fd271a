"""The per-leaf search classes and loop of the library before the one-engine redesign (commit
1b53e74), kept as references: the engine's K = 1 run must equal them (tests/unit/test_engine.py).
Test code only; nothing in the library imports it."""
