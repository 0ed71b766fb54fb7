"""The named tuples the kernels pass around: one model type per covariance
type (the stages dispatch on the type at compile time, so a pass compiles only
the covariance type it runs), the per-chunk accumulators and the score outputs.

A new model is a new named tuple here plus its stages (``log_prob`` and
``accumulate`` overloads), not a flag in a shared kernel.
"""

from collections import namedtuple

#: 'full': ``mats`` (C, d4, d) the lower-triangular L_k^-1 (rows padded with
#: zeros to d4 = d rounded up to 4), ``means`` (C, d), ``const`` (C,) float64
#: ``log w_k + log|L_k^-1| - d log(2 pi) / 2``. The statistics are taken around ``means``.
FullModel = namedtuple("FullModel", ["mats", "means", "const"])
#: 'tied': ``mat`` (d4, d) the shared L^-1, ``vecs`` (C, d) ``L^-1 (mu_k - center)``,
#: ``center`` (d,): the point the statistics are taken around.
TiedModel = namedtuple("TiedModel", ["mat", "vecs", "center", "const"])
#: 'diag': ``a`` (C, d) square roots of the precisions, ``b = a mu`` rounded once;
#: the E-step's ``t = a x - b = a (x - b/a)``, statistics around ``b/a``.
DiagModel = namedtuple("DiagModel", ["a", "b", "const"])
#: 'spherical': as 'diag' with each row of ``a`` constant; the second moment
#: comes from the E-step's own sums ``||t||^2``.
SphericalModel = namedtuple("SphericalModel", ["a", "b", "const"])

#: float64 per-chunk accumulators, chunk index first: ``nk`` (n, C), ``s1``
#: (n, C, d), ``s2`` (n, C2, d4 or 1, d), ``sums`` (n, 5) = (log-likelihood,
#: worst point's log-likelihood, its row index, entropy, sum r log(w N)).
Accumulators = namedtuple("Accumulators", ["nk", "s1", "s2", "sums"])
LL, WORST, WORST_INDEX, ENTROPY, ECL = range(5)

#: what a score pass writes: ``resp`` (N, C) in X's dtype, ``loglik`` (N,)
#: float64, ``labels`` (N,) int64 -- each with 0 rows when not wanted -- and
#: whether to sum the entropy of the responsibilities.
ScoreOut = namedtuple("ScoreOut", ["resp", "loglik", "labels", "entropy"])

#: a block's work arrays (d x B, transposed so inner loops run along points)
Work = namedtuple(
    "Work",
    [
        "Xt", "D", "Z", "RD",  # rows, differences, L^-1 products, weighted differences
        "P", "ps",  # the block's rows, row-major, and a component's point (second moments)
        "Pc", "nzi",  # the rows of P that a component weighs, and their indices (sparse responsibilities)
        "lp", "e", "r", "sq",  # (C, B): log-probabilities, exp(lp - max), responsibilities, Mahalanobis sums
        "w", "fw", "rw",  # sample weights, statistics' per-point factor, one component's weights
        "mx", "mx2", "amx", "amx2", "amz",  # component maximum and arg-max (two buffers each)
        "ssum", "ssx", "ssx0", "tx", "logs", "rlp", "wbuf",
        "zero", "one",  # 0 and 1 in X's dtype
    ],
)
