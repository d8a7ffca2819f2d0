"""`gmia audit`: GMIA against a user's model. Who is who (roles), which algorithm trains the
references (matching), the run and its result."""
