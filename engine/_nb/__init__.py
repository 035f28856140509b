"""Numba kernels: plain arrays in, plain arrays out; status codes, never exceptions."""
