#!/usr/bin/env python3
"""Coefficients of the CPU backend's exact GELU (MathEmitter.cpp,
kErfcxPoly): erfcx(z) = exp(z^2) erfc(z) as a degree-16 Chebyshev fit in
t = (z - 3) / (z + 3) for z in [0, 26], made with mpmath at 40 digits, and its
maximum relative error when evaluated by Horner's rule in double on 6001
points. Run by hand; mpmath comes with Debian's python3-mpmath."""
import mpmath as mp

mp.mp.dps = 40
k = mp.mpf(3)
zmax = mp.mpf(26)
erfcx = lambda t: (lambda z: mp.exp(z * z) * mp.erfc(z))(k * (1 + t) / (1 - t))
t0, t1 = mp.mpf(-1), (zmax - k) / (zmax + k)
poly, _ = mp.chebyfit(erfcx, [t0, t1], 17, error=True)
coeffs = [float(c) for c in poly]
worst = 0.0
for i in range(6001):
    t = t0 + (t1 - t0) * i / 6000
    acc = coeffs[0]
    for c in coeffs[1:]:
        acc = acc * float(t) + c
    worst = max(worst, abs(acc / float(erfcx(t)) - 1))
print("coefficients, highest degree first:")
for c in coeffs:
    print(f"  {c!r},")
print("max relative error (double Horner):", worst)
