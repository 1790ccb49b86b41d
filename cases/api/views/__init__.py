"""API views, one module per concept. They parse, call a selector or a service, and serialise."""
