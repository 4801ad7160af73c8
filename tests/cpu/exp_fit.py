#!/usr/bin/env python3
"""Coefficients of the CPU backend's exp(-a) for the sigmoid and GELU
(MathEmitter.cpp, expNegD): a degree-7 Chebyshev least-squares fit of e^r on
|r| <= ln2 / 2, made with mpmath at 50 digits, and its maximum relative error
on 20001 points; then those of expm1(-a) for the tanh (expm1NegD).
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

# expm1NegD (the tanh's): expm1(r) = r + r^2 Q(r) on |r| <= ln2 / 2, Q a
# degree-6 Chebyshev least-squares fit of (expm1(r) - r) / r^2.
q = lambda r: (mp.expm1(r) - r) / (r * r) if r != 0 else mp.mpf(0.5)
poly, _ = mp.chebyfit(q, [-half, half], 7, error=True)
worst = max(abs((r + r * r * mp.polyval(poly, r)) / mp.expm1(r) - 1)
            for r in mp.linspace(-half, half, 20000) if r != 0)
print("expm1 Q coefficients, highest degree first:")
for c in poly:
    print(f"  {float(c)!r}")
print("max relative error:", mp.nstr(worst, 3))
