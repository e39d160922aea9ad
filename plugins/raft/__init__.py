"""Built-in raft plugin (being written)."""
