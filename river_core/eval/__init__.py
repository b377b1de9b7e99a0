"""Evaluation: ``river eval`` (issue 19). Datasets (:mod:`.datasets`), reasoning metrics (:mod:`.metrics`),
editing metrics (:mod:`.editing`), baselines (:mod:`.baselines`), the run loop (:mod:`.run`), reports and
comparisons (:mod:`.report`, :mod:`.plot`). See ``river_core/eval/README.md``."""
