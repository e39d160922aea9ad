"""Built-in judges plugin (being written)."""
