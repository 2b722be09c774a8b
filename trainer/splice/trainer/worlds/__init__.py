"""Synthetic reasoning worlds: generated problems whose solutions are chains of checkable steps.

Worlds are plain Python (no torch), so the oracle service can import them to replay a
problem's state without the trainer extra.
"""
