"""Tests of the editor's panel (offscreen Qt)."""
