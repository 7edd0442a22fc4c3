"""HTML views of the core domain, one module per area."""
