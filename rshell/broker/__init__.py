"""rshelld: the broker that holds the engine connection and runs verbs for authenticated callers."""
