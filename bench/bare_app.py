"""The baseline for bench/ingest.py: a Flask app that only answers 200, run under the same gunicorn."""
from flask import Flask

app = Flask(__name__)


@app.post("/webhooks/shopify")
def accept():
    return {"success": True, "data": {"status": "accepted"}}
