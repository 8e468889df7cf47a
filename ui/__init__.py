"""Shells over the library: the `kb` CLI (and later the web UI and MCP server)."""
