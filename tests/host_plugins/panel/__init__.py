"""Tests of the editor's panel (PySide6, offscreen) against a real in-process bridge server."""
