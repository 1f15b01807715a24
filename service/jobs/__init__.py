"""Background work: the database job queue, worker wake-ups, job outcomes, the per-order lock, the worker loop."""
