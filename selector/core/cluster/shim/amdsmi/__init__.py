"""Stands in for an ``amdsmi`` whose native library is missing, in Ray's processes only.

amdsmi 7 installed without ROCm raises ``KeyError`` at import; Ray's accelerator detection
imports it in every Ray process and catches only ``ImportError``, so ``import ray`` fails.
``selector.core.cluster.ray_env`` puts this folder first on ``PYTHONPATH`` for the Ray
processes selector starts, on such machines only: there amdsmi could not work anyway.
"""

raise ImportError("amdsmi is installed but its native library (libamd_smi.so) is not")
