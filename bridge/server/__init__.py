"""The bridge server: ``river.bridge.v1`` on a local socket, running jobs on the engine.

- :mod:`bridge.server.config` — where things live (state, media roots, output root) and the path rules;
- :mod:`bridge.server.store` — the durable job store (SQLite, WAL): states, event log, results;
- :mod:`bridge.server.validate` — every request field checked, specs normalised before they are stored;
- :mod:`bridge.server.execute` — what each job kind does on :mod:`river_core` (twin, plan, render, edit);
- :mod:`bridge.server.runner` — the :class:`~bridge.server.runner.Runner` interface and the local worker;
- :mod:`bridge.server.service` — the gRPC servicer;
- :mod:`bridge.server.app` — the server process: socket, token, health, reflection, discovery file;
- :mod:`bridge.server.cli` — ``river serve`` (``river`` finds it through its ``river_nle.commands``).

Only this package may import the engine (``river_core``); the client side stays light.
"""
