"""Estimates made before anything runs: memory (from traced activation profiles), latency, fit.

``trace`` needs torch (it runs the model on the meta device); ``memory``, ``fit`` and
``latency`` do not, so the GUI can recompute 1,850 fits while the user types.
"""
