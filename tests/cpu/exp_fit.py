#!/usr/bin/env python3
"""Coefficients of the CPU backend's exp(-a) for the sigmoid (MathEmitter.cpp,
expNegD): a degree-7 Chebyshev least-squares fit of e^r on |r| <= ln2 / 2, made
with mpmath at 50 digits, and its maximum relative error on 20001 points.
Run by hand; mpmath comes with Debian's python3-mpmath."""
import mpmath as mp

mp.mp.dps = 50
half = mp.log(2) / 2
poly, _ = mp.chebyfit(mp.exp, [-half, half], 8, error=True)
worst = max(abs(mp.polyval(poly, r) / mp.exp(r) - 1)
            for r in mp.linspace(-half, half, 20001))
print("coefficients, highest degree first:")
for c in poly:
    print(f"  {float(c)!r}")
print("max relative error:", mp.nstr(worst, 3))
