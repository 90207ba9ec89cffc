"""Fleet scale (issue #16): the combos of a registry's worth of layers, by a distributed group-by on digest."""
