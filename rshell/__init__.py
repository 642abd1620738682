"""rshell: a restricted login shell that offers registered verbs over the Docker Engine API."""

__version__ = "0.1.0"
