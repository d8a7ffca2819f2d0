"""p = F(L) for many records at once, bit for bit what ``gmia.stats.ecdf.ecdf_pvalue`` gives record by record.

``gmia.stats.ecdf.ecdf_pvalue`` is the definition (docs/algorithm.md, step 3, and "The tail rule"):
for one record, its k reference losses L_1..L_k, rounded to 12 decimals, give the distinct knots
x_1 < .. < x_m with F(x_j) = (number of L_i <= x_j) / k; F between knots is scipy's
``PchipInterpolator`` through them, 1 above x_m, and below x_1 the tail rule (``zero``,
``pchip`` or ``gaussian``). Fitting one interpolator per record costs about 1 ms; this module
computes the same numbers for a block of records with whole-array numpy operations.

"The same numbers" means the same float64 bits, not approximately equal ones. Every value goes
through the operations scipy and ``ecdf_pvalue`` apply, in the same order, on the same operands:
IEEE arithmetic is deterministic per element, so an elementwise expression computed over an array
of records gives each record the bits the per-record code computes for it. What needed care:

- PCHIP slopes: scipy's ``PchipInterpolator._find_derivatives`` and ``_edge_case``, and the
  coefficients of ``CubicHermiteSpline`` (``c[0] = t / dx``, ``c[1] = (slope - d_i) / dx - t``,
  ``c[2] = d_i``, ``c[3] = y_i``), written out with the same grouping of every sum and product.
- evaluation: scipy's ``PPoly`` (Cython ``evaluate_poly1``) does not use Horner's rule; it adds
  the terms from the lowest power of s = x - x_i, each power by repeated multiplication:
  ``((a0 + a1 s) + a2 (s s)) + a3 ((s s) s)``, a_p the coefficient of s^p (its first step,
  0.0 + a0, is a0 since a0 = F(x_i) > 0). Horner's rule would change the last bit of about a
  third of the values. It uses the piece i with x_i <= x < x_{i+1}, and the last piece at x = x_m.
- only the pieces that hold a target loss are built: PCHIP's slope at knot j depends on the
  pieces beside it alone, so d_i, d_{i+1} and the piece's coefficients computed for those
  pieces are the numbers scipy computes among all m - 1.
- records have different numbers m of distinct knots (ties in the k losses): each block is
  grouped by m and every group is computed as a dense [records, m] array, so no padding enters
  any sum or difference (padding would change PCHIP's end slopes).
- per-record mean and standard deviation (``gaussian``): numpy's sum of a contiguous row of a
  C-ordered [records, k] array along axis 1 runs the same pairwise summation as the sum of that
  row as a 1-D array (tests/stats/test_pvalues_vectorised.py checks this bit for bit); a reduction
  over axis 0 of a [k, records] array would not, so rows are made C-contiguous first.
- transcendental functions (log, expm1, exp, ``norm.logsf``) are applied to contiguous arrays, as
  in ``ecdf_pvalue``, so numpy chooses the same (possibly SIMD) loop for them.

Records with a non-finite reference loss (where scipy raises, or not) and k = 0 go through
``ecdf_pvalue`` itself, so they behave exactly as before.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sstats

# Elements of the largest temporary per block ([records, T, m] comparisons to find each
# loss's piece): 4 Mi booleans, a few tens of MB of temporaries in all at any size of input.
BLOCK_ELEMENTS = 1 << 22


def logit_confidence_of_loss(loss: np.ndarray) -> np.ndarray:
    """φ = log(p / (1 − p)) with p = exp(−L); decreasing in L (the ``gaussian`` rule's scale)."""
    loss = np.maximum(np.asarray(loss, dtype=np.float64), 1e-300)
    return -loss - np.log(-np.expm1(-loss))


def _edge_slope(h0, h1, m0, m1):
    """scipy's ``PchipInterpolator._edge_case``: one-sided three-point slope at an end knot."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    mask = np.sign(d) != np.sign(m0)
    mask2 = (np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3.0 * np.abs(m0))
    mmm = (~mask) & mask2
    d[mask] = 0.0
    d[mmm] = 3.0 * m0[mmm]
    return d


def _at(v: np.ndarray, i: np.ndarray) -> np.ndarray:
    """``v[r, i[r, ...]]`` for each row r: np.take_along_axis, on the flat array (faster)."""
    if v.strides[0] == 0:  # the same row for every record (F(x_j) = j / k)
        return np.take(v[0], i)
    v = np.ascontiguousarray(v)
    return np.take(v.ravel(), i + (np.arange(v.shape[0]) * v.shape[1]).reshape((-1,) + (1,) * (i.ndim - 1)))


def pchip_slopes_at(xs: np.ndarray, ys: np.ndarray, j: np.ndarray) -> np.ndarray:
    """PCHIP's slope d_j at knots ``j [g, r]`` (indices into each row) of the curve through
    ``xs [g, m]`` (strictly increasing rows, m >= 2) and ``ys``.

    scipy's ``PchipInterpolator._find_derivatives`` computes every d_j from the two pieces beside
    knot j alone (h_{j-1}, h_j, m_{j-1}, m_j; the end knots by ``_edge_case`` from the first or
    last two pieces), so the knots a block needs, two per target loss, get scipy's bits without
    the other m - 2: the same operations in the same order on the same operands.
    """
    m = xs.shape[1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if m == 2:
            # scipy: two points give the straight line, both slopes the secant's.
            mk = (ys[:, 1] - ys[:, 0]) / (xs[:, 1] - xs[:, 0])
            return np.broadcast_to(mk[:, None], j.shape).copy()
        i = np.clip(j, 1, m - 2)  # interior formula everywhere; the ends are replaced below
        x_l, x_c, x_r = _at(xs, i - 1), _at(xs, i), _at(xs, i + 1)
        y_l, y_c, y_r = _at(ys, i - 1), _at(ys, i), _at(ys, i + 1)
        h_l, h_r = x_c - x_l, x_r - x_c  # scipy's hk[j-1], hk[j]
        m_l, m_r = (y_c - y_l) / h_l, (y_r - y_c) / h_r
        condition = (np.sign(m_r) != np.sign(m_l)) | (m_r == 0) | (m_l == 0)
        w1 = 2 * h_r + h_l
        w2 = h_r + 2 * h_l
        whmean = (w1 / m_l + w2 / m_r) / (w1 + w2)
        inner = np.where(condition, 0.0, 1.0 / whmean)
        hk = xs[:, 1:3] - xs[:, :2]
        mk = (ys[:, 1:3] - ys[:, :2]) / hk
        first = _edge_slope(hk[:, 0], hk[:, 1], mk[:, 0], mk[:, 1])
        hk = xs[:, -2:] - xs[:, -3:-1]
        mk = (ys[:, -2:] - ys[:, -3:-1]) / hk
        last = _edge_slope(hk[:, 1], hk[:, 0], mk[:, 1], mk[:, 0])
    return np.where(j == 0, first[:, None], np.where(j == m - 1, last[:, None], inner))


def hermite_coefficients(x_lo, x_hi, y_lo, y_hi, d_lo, d_hi) -> tuple[np.ndarray, ...]:
    """The cubic on [x_lo, x_hi] with values y and slopes d at its ends, as (c3, c2, c1, c0):
    F(x) = c3 s³ + c2 s² + c1 s + c0, s = x − x_lo. ``CubicHermiteSpline.__init__``'s
    operations (its dx is np.diff(x), its slope np.diff(y) / dx: the same values), elementwise,
    so any subset of pieces gets the bits of scipy's ``PPoly.c``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dx = x_hi - x_lo
        slope = (y_hi - y_lo) / dx
        t = (d_lo + d_hi - 2 * slope) / dx
        return t / dx, (slope - d_lo) / dx - t, d_lo, y_lo


def pchip_coefficients(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """(c3, c2, c1, c0) of every piece, each ``[g, m - 1]``: scipy's ``PchipInterpolator(x, y).c``."""
    dk = pchip_slopes_at(xs, ys, np.broadcast_to(np.arange(xs.shape[1]), xs.shape))
    return hermite_coefficients(xs[:, :-1], xs[:, 1:], ys[:, :-1], ys[:, 1:], dk[:, :-1], dk[:, 1:])


def _piece(xs: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Index i of the piece [x_i, x_{i+1}) of ``xs [g, m]`` that holds each ``obs [g, T]``, for
    x_1 <= L <= x_m: the number of interior knots x_2..x_{m-1} <= L (so L = x_m is on the last
    piece, as scipy's ``find_interval_ascending`` closes it on the right)."""
    m = xs.shape[1]
    if m == 2:
        return np.zeros(obs.shape, dtype=np.intp)
    # The knots are increasing, so "x_j > L" is False then True along j: the count is the index
    # of the first True (argmax of booleans, much faster than a sum), or m - 2 if there is none.
    above = xs[:, None, 1:-1] > obs[:, :, None]
    return np.where(above[:, :, -1], np.argmax(above, axis=2), m - 2)


def _cubic(c3, c2, c1, c0, s):
    """The first piece extrapolated, by Horner's rule as ``gmia.stats.ecdf._pchip_tail`` writes it."""
    return ((c3 * s + c2) * s + c1) * s + c0


def pchip_tail(c3, c2, c1, c0, x0, y0, obs) -> np.ndarray:
    """``gmia.stats.ecdf._pchip_tail`` for g records at once: the running minimum of each record's
    first cubic piece over [L, x_1], clipped to [0, F(x_1)].

    ``c3..c0``, ``x0`` (x_1) and ``y0`` (F(x_1)) are ``[g]``; ``obs`` (L) is ``[g, T]``; only
    entries with L < x_1 are meaningful. The branches the per-record code takes per record
    (a real quadratic for the critical points, a linear one, or none) are masks here.
    """
    col = lambda v: v[:, None]
    s_lo = obs - col(x0)
    with np.errstate(all="ignore"):
        best = np.minimum(_cubic(col(c3), col(c2), col(c1), col(c0), s_lo), col(c0))
        a, b, c = 3 * c3, 2 * c2, c1
        quadratic = np.abs(a) > 1e-300
        disc = b * b - 4 * a * c
        real = quadratic & (disc >= 0)
        sq = np.sqrt(disc)
        roots = [(real, (-b - sq) / (2 * a)), (real, (-b + sq) / (2 * a)),
                 (~quadratic & (np.abs(b) > 1e-300), -c / b)]
        for use, root in roots:
            inside = col(use) & (col(root) > s_lo) & (col(root) < 0)
            best = np.where(inside, np.minimum(best, col(_cubic(c3, c2, c1, c0, root))), best)
    return np.clip(best, 0.0, col(y0))


def _gaussian_tail(ref: np.ndarray, x0, y0, obs: np.ndarray) -> np.ndarray:
    """The ``gaussian`` rule for g records: ``ref [g, k]`` (C-contiguous rows), ``obs [g, T]``.

    p = F(x_1) · min(1, S(φ(L)) / S(φ(x_1))), S the survival function of N(μ, σ²) fitted to the
    record's φ(L_1..L_k) (σ with ddof 1, at least 1e-6). Returns p for every entry with L < x_1
    in row-major order (``obs[obs < x_1]``).
    """
    k = ref.shape[1]
    phi = logit_confidence_of_loss(ref)
    mu = phi.mean(axis=1)
    sd = phi.std(axis=1, ddof=1) if k > 1 else np.zeros(ref.shape[0])
    # Python's max(sd, 1e-6) in ecdf_pvalue: the same as np.maximum, NaN included.
    sd = np.maximum(sd, 1e-6)
    below = obs < x0[:, None]
    rows = np.nonzero(below)[0]
    # ecdf_pvalue takes φ(x_1) of a 0-d scalar; numpy's log and expm1 gave it the same bits as
    # a contiguous 1-D array here, on AVX2 and on AVX-512 machines (numpy 2.4 and 2.5), and
    # the tests compare the whole gaussian rule bit for bit.
    anchor = sstats.norm.logsf(logit_confidence_of_loss(np.ascontiguousarray(x0)), mu, sd)
    scaled = sstats.norm.logsf(logit_confidence_of_loss(obs[below]), mu[rows], sd[rows]) - anchor[rows]
    return y0[rows] * np.exp(np.minimum(scaled, 0.0))


def _block_pvalues(ref: np.ndarray, obs: np.ndarray, tail: str) -> np.ndarray:
    """p-values ``[b, T]`` of a block: ``ref [b, k]`` sorted and rounded, ``obs [b, T]`` rounded."""
    k = ref.shape[1]
    x0 = ref[:, 0]
    new = np.empty(ref.shape, dtype=bool)  # the first loss of each run of ties: np.unique's knots
    new[:, 0] = True
    np.not_equal(ref[:, 1:], ref[:, :-1], out=new[:, 1:])
    m = new.sum(axis=1)
    # F(x_1) = (ties at the smallest loss) / k, as np.cumsum(counts)[0] / k: an exact count, one division.
    y0 = (ref == x0[:, None]).sum(axis=1) / k
    out = np.ones(obs.shape)
    below = obs < x0[:, None]
    for mv in np.unique(m):
        rows = np.flatnonzero(m == mv)
        o, x0g, y0g, bg = obs[rows], x0[rows], y0[rows], below[rows]
        if mv == 1:
            # One distinct loss: F = F(x_1) at it, 1 above, the tail below (pchip has no piece: 0).
            res = np.where(o == x0g[:, None], y0g[:, None], out[rows])
            if tail == "pchip":
                res[bg] = 0.0
        else:
            if mv == k:  # no ties (the usual case): the knots are the losses, F(x_j) = j / k
                xs, ys = ref[rows], np.broadcast_to(np.arange(1, k + 1) / k, (rows.size, k))
            else:
                newg = new[rows]
                xs = ref[rows][newg].reshape(-1, mv)
                last = np.empty_like(newg)  # the last loss of each run: its index + 1 counts losses <= x_j
                last[:, :-1] = newg[:, 1:]
                last[:, -1] = True
                ys = (np.nonzero(last)[1].reshape(-1, mv) + 1) / k
            mid = (~bg) & (o <= xs[:, -1:])
            res = out[rows]
            if mid.any():
                # scipy's piece: the largest i with x_i <= L, the last piece at L = x_m.
                lo = _piece(xs, o)
                hi = lo + 1
                # Slopes and coefficients of the T pieces used only, not of all m - 1.
                d = pchip_slopes_at(xs, ys, np.concatenate([lo, hi], axis=1))
                t = lo.shape[1]
                x_lo = _at(xs, lo)
                c3, c2, c1, c0 = hermite_coefficients(x_lo, _at(xs, hi), _at(ys, lo), _at(ys, hi),
                                                      d[:, :t], d[:, t:])
                with np.errstate(all="ignore"):
                    s = o - x_lo
                    val = ((c0 + c1 * s) + c2 * (s * s)) + c3 * ((s * s) * s)
                res = np.where(mid, np.clip(val, 0.0, 1.0), res)
            if tail == "pchip" and bg.any():
                d = pchip_slopes_at(xs, ys, np.broadcast_to(np.arange(2), (xs.shape[0], 2)))
                first = hermite_coefficients(xs[:, 0], xs[:, 1], ys[:, 0], ys[:, 1], d[:, 0], d[:, 1])
                res = np.where(bg, pchip_tail(*first, x0g, y0g, o), res)
        out[rows] = res
    if below.any():
        if tail == "zero":
            out[below] = 1.0 / (k + 1)  # gmia.stats.ecdf: the rank p-value below every reference loss
        elif tail == "gaussian":
            # Only records with a loss below x_1 need their references' φ, μ and σ.
            rows = np.flatnonzero(below.any(axis=1))
            res = out[rows]
            res[below[rows]] = _gaussian_tail(ref[rows], x0[rows], y0[rows], obs[rows])
            out[rows] = res
    return out


def block_size(k: int, t: int, elements: int = BLOCK_ELEMENTS) -> int:
    """Records per block, so that a block's [records, T, k] temporary holds about ``elements``."""
    return max(1, elements // max(1, k * t))


def ecdf_pvalues_blocked(reference: np.ndarray, observed: np.ndarray, tail: str, *, per_record,
                         block: int | None = None) -> np.ndarray:
    """p = F(L) for every (target, record): ``reference [k, n]`` (L_1..L_k per record),
    ``observed [T, n]`` (the T targets' L(M, r)) → ``[T, n]``, in blocks of records.

    ``per_record`` is ``gmia.stats.ecdf.ecdf_pvalue``, used for records with a non-finite reference
    loss (passed in, since gmia.stats.ecdf imports this module). ``tail`` must be a valid rule.
    """
    reference = np.asarray(reference)
    observed = np.asarray(observed)
    if reference.ndim != 2 or observed.ndim != 2 or observed.shape[1] != reference.shape[1]:
        raise ValueError(f"expected reference [k, n] and observed [T, n]; got {reference.shape} and {observed.shape}")
    k, n = reference.shape
    t = observed.shape[0]
    out = np.empty(observed.shape, dtype=np.float64)
    if n == 0:
        return out
    if k == 0 or t == 0:
        for j in range(n):
            out[:, j] = per_record(reference[:, j], observed[:, j], tail)
        return out
    step = block or block_size(k, t)
    for start in range(0, n, step):
        sl = slice(start, min(start + step, n))
        # [b, k] C-contiguous rows: per-record sorts, sums and transcendental calls see a
        # contiguous row, as ecdf_pvalue's 1-D arrays are (see the module docstring).
        ref = np.ascontiguousarray(reference[:, sl].T, dtype=np.float64)
        ref.sort(axis=1)
        ref = np.round(ref, 12)
        obs = np.round(np.ascontiguousarray(observed[:, sl].T, dtype=np.float64), 12)
        finite = np.isfinite(ref).all(axis=1)
        block_out = np.empty(obs.shape)
        if finite.all():
            block_out[:] = _block_pvalues(ref, obs, tail)
        else:
            rows = np.flatnonzero(finite)
            if rows.size:
                block_out[rows] = _block_pvalues(ref[rows], obs[rows], tail)
            for i in np.flatnonzero(~finite):
                block_out[i] = per_record(reference[:, start + i], observed[:, start + i], tail)
        out[:, sl] = block_out.T
    return out
