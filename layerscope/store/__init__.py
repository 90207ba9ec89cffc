"""The dedup blob store (docs/store.md): keep many images in little space, give them back bit for bit."""
