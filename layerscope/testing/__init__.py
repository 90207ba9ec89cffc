"""Helpers for building test and benchmark images (stdlib only, no layerscope imports)."""
