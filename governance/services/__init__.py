"""Every state change of the core domain: one function per use case, transactional, on the
ledger."""
