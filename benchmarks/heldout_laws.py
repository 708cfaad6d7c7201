"""Held-out laws for bench_discover.py: Feynman-benchmark-style equations that
are NOT fixtures (the pipeline's defaults must not be tuned to them), with
input ranges like the Feynman dataset's.

LAWS: name -> (sympy text, {variable: (lo, hi)}); 1000 clean rows each.
NOISY: laws also run with Gaussian noise of 1% of std(y) (800 train rows).
SMALL: laws also run as a 30-row table (fit on all rows, as the CLI does).
HARD: deeper laws from the Feynman main set (3-6 variables, compositions and sums
of products), for settings of the symbolic search; run with ``--only hard``.
"""
from __future__ import annotations

U15 = (1, 5)

LAWS = {
    "I.12.1 mu*N": ("mu*Nn", {"mu": U15, "Nn": U15}),
    "I.14.4 k*x^2/2": ("k*x**2/2", {"k": U15, "x": U15}),
    "I.25.13 q/C": ("q/C", {"q": U15, "C": U15}),
    "I.6.2 gaussian(theta,sigma)": ("exp(-(theta/sigma)**2/2)/(sqrt(2*pi)*sigma)",
                                    {"theta": (1, 3), "sigma": (1, 3)}),
    "I.6.2a exp(-t^2/2)/sqrt(2pi)": ("exp(-theta**2/2)/sqrt(2*pi)", {"theta": (1, 3)}),
    "I.12.4 coulomb field": ("q1/(4*pi*8.854e-12*r**2)", {"q1": U15, "r": U15}),
    "I.12.11 q(Ef+Bv sin)": ("q*(Ef + B*v*sin(theta))",
                             {"q": U15, "Ef": U15, "B": U15, "v": U15, "theta": U15}),
    "I.13.4 m(v2+u2+w2)/2": ("m*(v**2 + u**2 + w**2)/2", {"m": U15, "v": U15, "u": U15, "w": U15}),
    "I.18.4 centre of mass": ("(m1*r1 + m2*r2)/(m1 + m2)", {"m1": U15, "m2": U15, "r1": U15, "r2": U15}),
    "I.29.16-like hypot": ("sqrt(x1**2 + x2**2)", {"x1": U15, "x2": U15}),
    "I.27.6 lens": ("1/(1/d1 + n/d2)", {"d1": U15, "n": U15, "d2": U15}),
    "I.29.4 omega/c": ("omega/c", {"omega": (1, 10), "c": (1, 10)}),
    "I.30.5 asin(l/(n d))": ("asin(lambd/(n*d))", {"lambd": (1, 2), "d": (2, 5), "n": U15}),
    "I.26.2 snell": ("asin(n*sin(theta2))", {"n": (0, 1), "theta2": U15}),
    "I.34.8 q*v*B/p": ("q*v*B/p", {"q": U15, "v": U15, "B": U15, "p": U15}),
    "I.37.4 interference": ("I1 + I2 + 2*sqrt(I1*I2)*cos(delta)", {"I1": U15, "I2": U15, "delta": U15}),
    "I.39.10 3/2 pF V": ("3*pF*V/2", {"pF": U15, "V": U15}),
    "I.47.23 sqrt(g p/rho)": ("sqrt(gamma*pr/rho)", {"gamma": U15, "pr": U15, "rho": U15}),
    "I.10.7 relativistic mass": ("m0/sqrt(1 - v**2/c**2)", {"m0": U15, "v": (1, 2), "c": (3, 10)}),
    "II.2.42 heat flow": ("kappa*(T2 - T1)*A/d", {"kappa": U15, "T1": U15, "T2": U15, "A": U15, "d": U15}),
    "II.6.15b dipole field": ("3*p*cos(theta)*sin(theta)/(4*pi*epsilon*r**3)",
                              {"p": (1, 3), "theta": (1, 3), "r": (1, 3), "epsilon": (1, 3)}),
    "II.38.14 Y/(2(1+s))": ("Y/(2*(1 + s))", {"Y": U15, "s": U15}),
    "III.4.33 planck": ("h*omega/(exp(h*omega/(kb*T)) - 1)", {"h": U15, "omega": U15, "kb": U15, "T": U15}),
    "x*sin(y) mixed sign": ("x*sin(y)", {"x": (-2, 2), "y": (0, 3)}),
    "exp(-x)*cos(y)": ("exp(-x)*cos(y)", {"x": (0, 2), "y": (0, 3)}),
}

NOISY = ["I.14.4 k*x^2/2", "I.6.2a exp(-t^2/2)/sqrt(2pi)", "I.18.4 centre of mass", "I.27.6 lens",
         "I.34.8 q*v*B/p", "I.47.23 sqrt(g p/rho)", "x*sin(y) mixed sign"]
SMALL = ["I.12.1 mu*N", "I.14.4 k*x^2/2", "I.29.4 omega/c", "I.39.10 3/2 pF V", "I.47.23 sqrt(g p/rho)",
         "I.10.7 relativistic mass"]

HARD = {
    "I.8.14 distance": ("sqrt((x2 - x1)**2 + (y2 - y1)**2)", {"x1": U15, "x2": U15, "y1": U15, "y2": U15}),
    "I.11.19 dot product": ("x1*y1 + x2*y2 + x3*y3", {"x1": U15, "y1": U15, "x2": U15, "y2": U15,
                                                      "x3": U15, "y3": U15}),
    "I.15.3x lorentz x": ("(x - u*t)/sqrt(1 - u**2/c**2)", {"x": (5, 10), "u": (1, 2), "t": (1, 2),
                                                            "c": (3, 20)}),
    "I.40.1 barometric": ("n0*exp(-m*g*x/(kb*T))", {"n0": U15, "m": U15, "g": U15, "x": U15, "kb": U15,
                                                    "T": U15}),
    "I.41.16 planck spectrum": ("h*omega**3/(pi**2*c**2*(exp(h*omega/(kb*T)) - 1))",
                                {"omega": U15, "T": U15, "h": U15, "kb": U15, "c": U15}),
    "I.44.4 isothermal work": ("n*kb*T*log(V2/V1)", {"n": U15, "kb": U15, "T": U15, "V1": U15, "V2": U15}),
    "I.50.26 anharmonic": ("x1*(cos(omega*t) + alpha*cos(omega*t)**2)", {"x1": (1, 3), "omega": (1, 3),
                                                                       "t": (1, 3), "alpha": (1, 3)}),
    "II.11.27 polarisation": ("n*alpha/(1 - n*alpha/3)*eps*Ef", {"n": (0, 1), "alpha": (0, 1),
                                                                "eps": U15, "Ef": U15}),
    "II.35.18 paramagnet": ("n0/(exp(mom*B/(kb*T)) + exp(-mom*B/(kb*T)))",
                            {"n0": U15, "kb": U15, "T": U15, "mom": U15, "B": U15}),
    "III.10.19 |B| moment": ("mom*sqrt(Bx**2 + By**2 + Bz**2)", {"mom": U15, "Bx": U15, "By": U15, "Bz": U15}),
    "II.24.17 waveguide": ("sqrt(omega**2/c**2 - pi**2/d**2)", {"omega": (4, 6), "c": (1, 2), "d": (2, 4)}),
    "III.15.12 tight binding": ("2*U*(1 - cos(k*d))", {"U": U15, "k": U15, "d": U15}),
    "III.17.37 beta(1+a cos)": ("beta*(1 + alpha*cos(theta))", {"beta": U15, "alpha": U15, "theta": U15}),
    "I.32.17 dipole power": ("eps*c*Ef**2*8*pi*r**2/3*omega**4/(2*(omega**2 - omega0**2)**2)",
                             {"eps": U15, "c": U15, "Ef": U15, "r": U15, "omega": U15, "omega0": (3, 5)}),
    "I.43.43 heat conduction": ("kb*v/(A*(gamma - 1))", {"gamma": (2, 5), "kb": U15, "A": U15, "v": U15}),
    "II.6.15a dipole Ez": ("3*p*z*sqrt(x**2 + y**2)/(4*pi*eps*r**5)",
                           {"eps": U15, "p": U15, "r": U15, "x": U15, "y": U15, "z": U15}),
}

NOISE = 0.01
SMALL_ROWS = 30
