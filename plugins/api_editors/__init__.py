"""Built-in api_editors plugin (being written)."""
