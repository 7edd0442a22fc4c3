"""Forms of the core domain: they validate input; services make the changes."""
