"""Estimates made before anything runs: memory (from traced activation profiles), latency, fit.

- :mod:`~selector.core.estimate.trace`: ``profile_entry(model, entry)`` traces a meta-device
  model into the JSON activation profile stored in ``CatalogEntry.activation`` (needs torch).
- :mod:`~selector.core.estimate.memory`: ``Workload``, ``MemoryEstimate``,
  ``estimate_memory(entry, workload, device_kind)`` (no torch; microseconds per entry).
- :mod:`~selector.core.estimate.fit`: ``fit(entry, workload, device) -> FitResult`` against
  free memory.
- :mod:`~selector.core.estimate.latency`: ``estimate_latency(entry, workload, device_id,
  calibration)``; :mod:`~selector.core.estimate.calibration` measures this CPU once.
- :mod:`~selector.core.estimate.measure`: real peaks in fresh processes, for validation.

Only ``trace``, ``tracker``, ``calibration.calibrate`` and ``measure``'s child import torch, so
the GUI can recompute 1,850 fits while the user types.
"""
