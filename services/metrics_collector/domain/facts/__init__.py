"""Delivery facts, pure: what they are, how duplicates merge, how payloads map to them."""
