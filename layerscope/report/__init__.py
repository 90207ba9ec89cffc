"""Renderers: result objects in, text / JSON out. No analysis happens here."""
