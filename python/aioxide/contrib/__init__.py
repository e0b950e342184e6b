"""Integrations with other libraries, each imported on its own
(``aioxide.contrib.opentelemetry``); importing this package imports none
of them."""
