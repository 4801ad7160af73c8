#!/usr/bin/env python3
"""Coefficients of the CPU backend's --fast-math activations
(compiler/codegen/cpu/FastMath.cpp): Chebyshev least-squares fits made with
mpmath at 40 digits, each with its maximum relative error on a fine grid.
Run by hand; mpmath comes with Debian's python3-mpmath. The float routines
built on them are checked over the whole float range by
tests/cpu/CpuActivationTest.cpp."""
import mpmath as mp

mp.mp.dps = 40


def show(name, poly, err):
    print(f"{name}: max relative error {mp.nstr(err, 3)}; highest degree first:")
    for c in poly:
        print(f"  {float(c)!r},")


# kExpPoly: e^r on |r| <= ln2 / 2, degree 6.
half = mp.log(2) / 2
poly, _ = mp.chebyfit(mp.exp, [-half, half], 7, error=True)
err = max(abs(mp.polyval(poly, r) / mp.exp(r) - 1)
          for r in mp.linspace(-half, half, 4001))
show("kExpPoly", poly, err)

# kTanhPoly: tanh(x) = x + x^3 P(x^2) on [0, 0.55], P of degree 4.
small = mp.mpf("0.55")
g = lambda s: (mp.tanh(mp.sqrt(s)) / mp.sqrt(s) - 1) / s if s > 0 else mp.mpf(-1) / 3
poly, _ = mp.chebyfit(g, [mp.mpf(0), small * small], 5, error=True)
err = max(abs((x + x**3 * mp.polyval(poly, x * x)) / mp.tanh(x) - 1)
          for x in mp.linspace(mp.mpf("1e-6"), small, 4001))
show("kTanhPoly", poly, err)

# kPhiPoly: Phi(x) = 1/2 + x Q(x^2) on [-0.7, 0.7], Q of degree 4.
small = mp.mpf("0.7")
q = lambda s: (mp.ncdf(mp.sqrt(s)) - mp.mpf(0.5)) / mp.sqrt(s) if s > 0 else 1 / mp.sqrt(2 * mp.pi)
poly, _ = mp.chebyfit(q, [mp.mpf(0), small * small], 5, error=True)
err = max(abs((mp.mpf(0.5) + x * mp.polyval(poly, x * x)) / mp.ncdf(x) - 1)
          for x in mp.linspace(-small, small, 4000))
show("kPhiPoly", poly, err)

# kErfcxPoly: erfcx(z) = exp(z^2) erfc(z) in t = (z - 3) / (z + 3) for z in
# [0.7 / sqrt 2, 9.5] (|x| from 0.7 to past GELU's underflow), degree 10.
k = mp.mpf(3)
z0, z1 = small / mp.sqrt(2), mp.mpf("9.5")
t0, t1 = (z0 - k) / (z0 + k), (z1 - k) / (z1 + k)
erfcx = lambda t: (lambda z: mp.exp(z * z) * mp.erfc(z))(k * (1 + t) / (1 - t))
poly, _ = mp.chebyfit(erfcx, [t0, t1], 11, error=True)
err = max(abs(mp.polyval(poly, t) / erfcx(t) - 1) for t in mp.linspace(t0, t1, 3001))
show("kErfcxPoly", poly, err)
