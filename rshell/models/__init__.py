"""Ollama model management for the model verbs (models, load, unload, pull): policy, listing, actions."""
