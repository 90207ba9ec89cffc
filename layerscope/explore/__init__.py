"""`layerscope explore`: the model an interactive terminal explorer reads (issue #17)."""
