"""mebench's built-in plugins, registered through the ``mebench`` entry-point group."""
