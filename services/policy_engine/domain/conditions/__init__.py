"""The condition language of policies: CEL compilation and its Python fast path."""
