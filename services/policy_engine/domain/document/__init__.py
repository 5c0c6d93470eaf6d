"""The policy document: its schema, loading, layering and effective form."""
