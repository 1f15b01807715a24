"""CJ Bridge: store webhooks in, CJ Dropshipping orders out, tracking back to the store."""
from service.app import create_app  # noqa: F401
