"""Agents speak MCP: ``ssh host -- mcp`` serves the verbs a principal may use as typed tools."""
