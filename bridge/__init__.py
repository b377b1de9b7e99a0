"""The bridge between editors' NLEs and the engine: a local gRPC service (``river.bridge.v1``).

Layout (see ../shared/design/ARCHITECTURE.md): ``bridge.client`` is the light, typed client that host
plugins import (no torch, no numpy); ``bridge.server`` runs jobs on ``river_core``. The service itself
is built in its own issue; this package root stays import-light so the client can live beside an NLE.
"""
