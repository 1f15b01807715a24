"""Pipeline steps run by the worker: each takes a DB session and plain keyword arguments."""
