"""The bridge between editors' NLEs and the engine: a local gRPC service, API ``river.bridge.v1``.

- ``bridge/v1/bridge.proto`` — the API (generated code beside it; ``python -m bridge.codegen``);
- :mod:`bridge.client` — the light, typed client host plugins import (no torch, no numpy);
- :mod:`bridge.discovery` — where a running server is found (runtime dir, discovery file, token);
- :mod:`bridge.cli_jobs` — ``river jobs …`` on the client;
- :mod:`bridge.server` — ``river serve``: the service, job store and runner on :mod:`river_core`.

This package root stays import-light so the client can live beside an NLE.
"""
