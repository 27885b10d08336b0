"""Batch settlement: whole years of claims from files, re-settled exactly as real time settles them."""
