"""CJ Bridge: store webhooks in, CJ Dropshipping orders out, tracking back to the store.

The app factory is service.app.create_app; importing this package imports nothing else, so the worker
and the adapters never load Flask through it.
"""
