"""The reasoner: an LLM reads a compact view of the twin and a query, runs sandboxed code on the twin
(``<execute>`` → ``<results>``), and writes an edited twin (``<edit>``) that becomes an edit plan.

Modules:

- :mod:`~river_core.reasoning.protocol`: the rollout tags and the one parser of rollouts;
- :mod:`~river_core.reasoning.twin_data` / :mod:`~river_core.reasoning.twin_api`: the twin as plain
  data and the helpers model-written code may call (stdlib only: they run inside the sandbox);
- :mod:`~river_core.reasoning.gate` / :mod:`~river_core.reasoning.sandbox`: the AST allow-list and
  the isolated worker process that runs ``<execute>`` code; :mod:`~river_core.reasoning.worker_pool`
  starts those workers ahead of time;
- :mod:`~river_core.reasoning.view`: the compact and paper-style LLM views of a twin;
- :mod:`~river_core.reasoning.llm`: LLM backends (transformers, OpenAI-compatible HTTP, replay);
- :mod:`~river_core.reasoning.edits`: the ``<edit>`` block → validated diff → edit plan;
- :mod:`~river_core.reasoning.plan`: the edit plan document, its schema and files;
- :mod:`~river_core.reasoning.reasoner`: the loop that ties them together, with retries.
"""
