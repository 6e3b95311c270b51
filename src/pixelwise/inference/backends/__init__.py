"""Runtimes a :class:`~pixelwise.inference.network.NetworkPredictor` can run a network in."""
