"""Human-readable figures. Memory is carried as MiB (2**20 bytes) everywhere in the core."""

from __future__ import annotations


def fmt_mib(mib: float | None) -> str:
    """``512 MiB``, ``23.4 GiB``; an em dash for unknown."""
    if mib is None:
        return "—"
    if abs(mib) >= 1024:
        return f"{mib / 1024:.1f} GiB"
    if abs(mib) >= 10:
        return f"{mib:.0f} MiB"
    return f"{mib:.1f} MiB"


def fmt_count(n: float | None, unit: str = "") -> str:
    """``11.7 M``, ``1.82 G``: parameter counts and MACs."""
    if n is None:
        return "—"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            value = n / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {suffix}{unit}".rstrip()
    return f"{n:.0f} {unit}".rstrip()


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    return f"{ms:.2f} ms"


def fmt_optional(value: object, suffix: str = "") -> str:
    return "—" if value is None or value == "" else f"{value}{suffix}"
