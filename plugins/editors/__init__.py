"""Built-in editors plugin (being written)."""
