"""kanstudio: fit, talk to and symbolify Kolmogorov-Arnold Networks."""

__version__ = "0.1.0"
