"""The REST API of the core domain (`/api/v1/`), one module per resource."""
