"""MCP: the verbs as tools for agents, through a real MCP client and a real server process."""
