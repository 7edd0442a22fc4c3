"""Reads of the core domain shared by pages and the API."""
