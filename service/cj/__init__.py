"""The CJ Dropshipping Open API: client, shared account throttle and tokens, error classification."""
