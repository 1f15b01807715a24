"""What the service tells its operators: structured JSON logs and crash reports without customer data."""
