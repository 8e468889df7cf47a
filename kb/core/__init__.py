"""The core every other part of kb builds on: the record models (``models``), the vocabularies as enums
(``enums``), the one exception tree (``errors``), the settings object built once by a shell (``settings``)
and size-bounded YAML/JSON loading (``bounded``). It imports nothing else of the project."""
