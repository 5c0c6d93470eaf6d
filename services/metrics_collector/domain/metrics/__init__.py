"""The five DORA metrics, pure: snapshots of facts, the calculators and their report."""
