"""Numba kernels. No validation, no Python objects: callers pass C-contiguous
float32/float64 arrays that :mod:`fastgmm` has already checked."""
