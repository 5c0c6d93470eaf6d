"""Deciding: a compiled policy, its checks and plans, evaluated into a decision."""
