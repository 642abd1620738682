"""The Docker Engine connection: the client built from the policy's URL, its shared pool, and calls bounded in time."""

from rshell.engine.client import API_VERSION, BROKER_LIST_TTL_SECONDS, Engine, engine_errors, translate_engine_error

__all__ = ["API_VERSION", "BROKER_LIST_TTL_SECONDS", "Engine", "engine_errors", "translate_engine_error"]
