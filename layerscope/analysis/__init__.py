"""Analyses over resolved images: inspect (this package grows compare, waste, ci, savings)."""
