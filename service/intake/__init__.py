"""The durable webhook write path: deliveries stored with their keys and jobs, group commit, store lookup, decoding."""
