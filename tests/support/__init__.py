"""Shared test support: the real Docker engine, test images and containers, and running rshell."""
