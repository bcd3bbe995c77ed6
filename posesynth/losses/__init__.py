"""Loss terms: each a pure function returning a scalar tensor; weights live in the config."""
