"""The durable webhook write path: deliveries stored with their dedupe keys and jobs, group commit, store lookup, body decoding."""
