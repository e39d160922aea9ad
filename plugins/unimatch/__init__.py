"""Built-in unimatch plugin (being written)."""
