"""Who may do what: API tokens with scopes, checked on HTTP and gRPC, and the audit log."""
