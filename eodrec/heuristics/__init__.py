"""The baselines the field expects: heuristics with no trained parameters (Ludewig & Jannach,
"Evaluation of session-based recommendation algorithms", 2018).

A zero-parameter "your own items again, most recent first" beats every neural model here on
Tmall, so no result of this package reads right without these numbers beside it. The package
imports no algorithm here, so that :mod:`eodrec.config` can import its config cheaply.
"""
