"""Host plugins: code that runs beside the editor's NLE (OTIO timelines, DaVinci Resolve, a panel).

They talk to the engine only through ``bridge.client`` and never import torch, numpy or ``river_core``;
``tests/test_import_boundaries.py`` enforces it. The plugins themselves arrive with their own issue.
"""
