"""Authority decided again during a request: re-checks of a verb and its targets, and the watch for long verbs."""
