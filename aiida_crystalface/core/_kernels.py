"""Numba kernels of the fingerprint (Eq. 1-2); imported only when a fingerprint is computed.

Why they look like this (measured on the project's 2-core AVX-512 machine, numba without SVML):

* ``np.sin``/``np.cos`` in a loop call libm once per element and do not vectorise. The phase is therefore taken in
  turns, t = H . x, reduced to r = t - round(t) in [-1/2, 1/2], and sin / cos of the half angle b = pi r in
  [-pi/2, pi/2] are Taylor polynomials of degree 11 / 10 (truncation error below 6e-8 / 5e-7), combined by the
  double-angle formulas. Plain float32 arithmetic: LLVM vectorises the pixel loop (``fastmath``).
* Atoms of one species share a form factor per pixel, so the kernel sums exp(-2 pi i t) per species group and
  multiplies by f once per group and pixel.
* Pixels are processed in blocks that stay in L1 cache; atoms are the middle loop, pixels the inner, vector loop.
* Structures are independent: ``prange`` over them.
"""

from __future__ import annotations

import numba as nb
import numpy as np

BLOCK = 512

_PI = np.float32(np.pi)
# Taylor coefficients of sin(b) / b and cos(b) in powers of b^2.
_S1, _S2, _S3, _S4, _S5 = (np.float32(v) for v in (-1 / 6, 1 / 120, -1 / 5040, 1 / 362880, -1 / 39916800))
_C1, _C2, _C3, _C4, _C5 = (np.float32(v) for v in (-1 / 2, 1 / 24, -1 / 720, 1 / 40320, -1 / 3628800))


@nb.njit(fastmath=True, cache=True, inline='always')
def _accumulate(bx, by, bz, x, y, z, start, stop, sre, sim):  # noqa: PLR0917
    """Add exp(-2 pi i H.x) of atoms start..stop to sre / sim for the pixel block (bx, by, bz).

    The block arrives as slices: indexing ``hx[lo + k]`` inside the loop measured 7x slower (no clean vector loop).
    """
    m = bx.shape[0]
    for atom in range(start, stop):
        ax, ay, az = x[atom], y[atom], z[atom]
        for k in range(m):
            t = bx[k] * ax + by[k] * ay + bz[k] * az
            b = (t - np.floor(t + np.float32(0.5))) * _PI
            b2 = b * b
            s = b * (np.float32(1.0) + b2 * (_S1 + b2 * (_S2 + b2 * (_S3 + b2 * (_S4 + b2 * _S5)))))
            c = np.float32(1.0) + b2 * (_C1 + b2 * (_C2 + b2 * (_C3 + b2 * (_C4 + b2 * _C5))))
            sre[k] += c * c - s * s
            sim[k] -= np.float32(2.0) * s * c


@nb.njit(fastmath=True, cache=True)
def _one(hx, hy, hz, omega, table, x, y, z, group_species, group_start, g0, g1, gamma, out):  # noqa: PLR0917
    """Write the unnormalised then normalised D of one structure (groups g0..g1) into ``out``."""
    n = hx.shape[0]
    sre = np.empty(BLOCK, dtype=np.float32)
    sim = np.empty(BLOCK, dtype=np.float32)
    re = np.empty(BLOCK, dtype=np.float32)
    im = np.empty(BLOCK, dtype=np.float32)
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        re[:] = 0.0
        im[:] = 0.0
        for g in range(g0, g1):
            sre[:] = 0.0
            sim[:] = 0.0
            _accumulate(
                hx[lo:hi],
                hy[lo:hi],
                hz[lo:hi],
                x,
                y,
                z,
                group_start[g],
                group_start[g + 1],
                sre[: hi - lo],
                sim[: hi - lo],
            )
            f = table[group_species[g]]
            for k in range(hi - lo):
                re[k] += f[lo + k] * sre[k]
                im[k] += f[lo + k] * sim[k]
        for k in range(hi - lo):
            a = re[k] * re[k] + im[k] * im[k]  # |Psi|^2
            if gamma == 1.5:
                v = np.sqrt(a * np.sqrt(a))  # |Psi|^(3/2) with vectorisable square roots
            elif gamma == 2.0:
                v = a
            else:
                v = a ** np.float32(0.5 * gamma)
            out[lo + k] = omega[lo + k] * v
    peak = out.max()
    if peak > 0:
        scale = np.float32(1.0) / peak
        for k in range(n):
            out[k] *= scale


@nb.njit(fastmath=True, cache=True, parallel=True, nogil=True)
def batch_kernel(hx, hy, hz, omega, table, x, y, z, group_species, group_start, cluster_groups, gamma, out):  # noqa: PLR0917
    """Fingerprint values of the kept pixels for every cluster, in parallel over clusters: ``out`` (N, n_kept)."""
    for i in nb.prange(out.shape[0]):
        _one(
            hx,
            hy,
            hz,
            omega,
            table,
            x,
            y,
            z,
            group_species,
            group_start,
            cluster_groups[i],
            cluster_groups[i + 1],
            gamma,
            out[i],
        )


@nb.njit(cache=True)
def _phase_tables(frac, axis, reach):
    """(2 reach + 1, n) real and imaginary parts of exp(2 pi i h x_j) for h = -reach..reach, by repeated products."""
    n = frac.shape[0]
    size = 2 * reach + 1
    re = np.empty((size, n))
    im = np.empty((size, n))
    for j in range(n):
        c = np.cos(2.0 * np.pi * frac[j, axis])
        s = np.sin(2.0 * np.pi * frac[j, axis])
        re[reach, j], im[reach, j] = 1.0, 0.0
        pr, pi = 1.0, 0.0
        for h in range(1, reach + 1):
            pr, pi = pr * c - pi * s, pr * s + pi * c
            re[reach + h, j], im[reach + h, j] = pr, pi
            re[reach - h, j], im[reach - h, j] = pr, -pi
    return re, im


@nb.njit(fastmath=True, cache=True)
def coherence_power(frac, reach, index, power):
    """power[p] = |sum_j x[h_p, j] y[k_p, j] z[l_p, j]|^2 for the reflections index[p] = (h_p, k_p, l_p) + reach.

    ``x``, ``y``, ``z`` are the per-axis phase factors exp(2 pi i h x_j) of the atoms at fractional positions ``frac``
    (:func:`aiida_crystalface.core.orientation.find_lattice`). Atoms are the inner, vectorised loop. Serial on
    purpose: one structure is a fraction of a millisecond of work, less than what waking a thread pool costs on a busy
    machine (measured 0.1 ms serial, 7 ms with prange).
    """
    xr, xi = _phase_tables(frac, 0, reach[0])
    yr, yi = _phase_tables(frac, 1, reach[1])
    zr, zi = _phase_tables(frac, 2, reach[2])
    n = frac.shape[0]
    for p in range(index.shape[0]):
        a, b, c = index[p, 0], index[p, 1], index[p, 2]
        re = 0.0
        im = 0.0
        for j in range(n):
            pr = xr[a, j] * yr[b, j] - xi[a, j] * yi[b, j]
            pi = xr[a, j] * yi[b, j] + xi[a, j] * yr[b, j]
            re += pr * zr[c, j] - pi * zi[c, j]
            im += pr * zi[c, j] + pi * zr[c, j]
        power[p] = re * re + im * im


@nb.njit(cache=True)
def reflections(metric, reach, g2_max):
    """The (h, k, l), one of each Friedel pair (h > 0; or h = 0, k > 0; or h = k = 0, l > 0), with 0 < G^2 <= g2_max.

    ``metric`` is the metric tensor of the reciprocal basis (G^2 = hkl . metric . hkl); ``reach`` the largest |h|,
    |k|, |l| to look at.
    """
    r0, r1, r2 = reach[0], reach[1], reach[2]
    out = np.empty(((r0 + 1) * (2 * r1 + 1) * (2 * r2 + 1), 3), dtype=np.int64)
    count = 0
    for h in range(0, r0 + 1):
        for k in range(-r1, r1 + 1):
            if h == 0 and k < 0:
                continue
            for m in range(-r2, r2 + 1):
                if h == 0 and k == 0 and m <= 0:
                    continue
                g2 = (
                    metric[0, 0] * h * h
                    + metric[1, 1] * k * k
                    + metric[2, 2] * m * m
                    + 2.0 * (metric[0, 1] * h * k + metric[0, 2] * h * m + metric[1, 2] * k * m)
                )
                if g2 <= g2_max:
                    out[count, 0] = h
                    out[count, 1] = k
                    out[count, 2] = m
                    count += 1
    return out[:count]


@nb.njit(cache=True, fastmath=True)
def nearest_squared(frac, cell, chosen, shifts, wrap):
    """Squared distance from each atom ``chosen[a]`` to its nearest other atom, periodic images included.

    ``frac`` (n, 3) fractional positions; ``shifts`` (m, 3) the cell translations to try; with ``wrap`` the
    fractional differences are first wrapped into [-1/2, 1/2] (minimum image, exact when the nearest neighbour is
    closer than half the cell's smallest height; ``shifts`` is then just (0, 0, 0)).
    """
    n = frac.shape[0]
    out = np.empty(chosen.shape[0])
    for a in range(chosen.shape[0]):
        i = chosen[a]
        best = np.inf
        for j in range(n):
            dx = frac[j, 0] - frac[i, 0]
            dy = frac[j, 1] - frac[i, 1]
            dz = frac[j, 2] - frac[i, 2]
            if wrap:
                dx -= np.round(dx)
                dy -= np.round(dy)
                dz -= np.round(dz)
            for s in range(shifts.shape[0]):
                fx, fy, fz = dx + shifts[s, 0], dy + shifts[s, 1], dz + shifts[s, 2]
                x = fx * cell[0, 0] + fy * cell[1, 0] + fz * cell[2, 0]
                y = fx * cell[0, 1] + fy * cell[1, 1] + fz * cell[2, 1]
                z = fx * cell[0, 2] + fy * cell[1, 2] + fz * cell[2, 2]
                d2 = x * x + y * y + z * z
                if 1e-12 < d2 < best:
                    best = d2
        out[a] = best
    return out


@nb.njit(cache=True)
def most_cubic_triple(vectors):
    """Indices (i, j, k) of the triple of ``vectors`` (m, 3) closest to a cube's edges.

    Deviation: the largest |cos| between two of them plus (longest / shortest - 1); coplanar triples are skipped.
    The smallest deviation wins; within 1e-9, the shortest total length; within 1e-9, the first found.
    """
    m = vectors.shape[0]
    lengths = np.empty(m)
    for i in range(m):
        lengths[i] = np.sqrt(vectors[i, 0] ** 2 + vectors[i, 1] ** 2 + vectors[i, 2] ** 2)
    # |cos| of every pair once (the triple loop reads them; a dot product per triple and pair cost 0.1 us each)
    cosines = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            dot = vectors[i, 0] * vectors[j, 0] + vectors[i, 1] * vectors[j, 1] + vectors[i, 2] * vectors[j, 2]
            cosines[i, j] = abs(dot) / (lengths[i] * lengths[j])
    best = (-1, -1, -1)
    best_dev, best_total = np.inf, np.inf
    for i in range(m):
        for j in range(i + 1, m):
            cij = cosines[i, j]
            for k in range(j + 1, m):
                cik = cosines[i, k]
                cjk = cosines[j, k]
                a, b, c = vectors[i], vectors[j], vectors[k]
                volume = abs(
                    a[0] * (b[1] * c[2] - b[2] * c[1])
                    - a[1] * (b[0] * c[2] - b[2] * c[0])
                    + a[2] * (b[0] * c[1] - b[1] * c[0])
                ) / (lengths[i] * lengths[j] * lengths[k])
                if volume <= 1e-6:
                    continue
                longest = max(lengths[i], lengths[j], lengths[k])
                shortest = min(lengths[i], lengths[j], lengths[k])
                deviation = max(cij, cik, cjk) + longest / shortest - 1.0
                total = lengths[i] + lengths[j] + lengths[k]
                if deviation < best_dev - 1e-9 or (abs(deviation - best_dev) <= 1e-9 and total < best_total - 1e-9):
                    best, best_dev, best_total = (i, j, k), deviation, total
    return best


@nb.njit(cache=True)
def integer_basis(vectors):
    """A basis (rank rows, echelon form) of the lattice generated by the integer rows of ``vectors`` (m, 3).

    Integer row reduction, column by column: the row with the smallest non-zero entry reduces the others (Euclid)
    until it is the only one left with a non-zero entry in that column; it then joins the basis.
    """
    rows = vectors.copy()
    m = rows.shape[0]
    active = np.ones(m, dtype=np.bool_)
    basis = np.zeros((3, 3), dtype=np.int64)
    rank = 0
    for column in range(3):
        while True:
            pivot, smallest, count = -1, 0, 0
            for i in range(m):
                if active[i] and rows[i, column] != 0:
                    count += 1
                    value = abs(rows[i, column])
                    if pivot < 0 or value < smallest:
                        pivot, smallest = i, value
            if pivot < 0:
                break
            if count == 1:
                basis[rank] = rows[pivot]
                rank += 1
                active[pivot] = False
                break
            for i in range(m):
                if active[i] and i != pivot and rows[i, column] != 0:
                    q = rows[i, column] // rows[pivot, column]
                    for c in range(3):
                        rows[i, c] -= q * rows[pivot, c]
    return basis[:rank]


@nb.njit(cache=True)
def reduce_basis(basis):
    """A reduced basis of the lattice of ``basis`` (3, 3): pairwise size reduction until no vector gets shorter,
    sorted by length, right-handed."""
    b = basis.copy()
    for _ in range(100):
        changed = False
        for i in range(3):
            for j in range(3):
                if i == j:
                    continue
                factor = np.round((b[j] @ b[i]) / (b[i] @ b[i]))
                if factor != 0.0:
                    candidate = b[j] - factor * b[i]
                    if candidate @ candidate < (b[j] @ b[j]) * (1.0 - 1e-12):
                        b[j] = candidate
                        changed = True
        if not changed:
            break
    order = np.argsort(np.array([b[0] @ b[0], b[1] @ b[1], b[2] @ b[2]]), kind='mergesort')
    b = b[order]
    if np.linalg.det(b) < 0:
        b[2] = -b[2]
    return b


@nb.njit(cache=True, fastmath=True)
def closest_pair(frac, cell):
    """(d^2, i, j) of the closest pair of atoms i < j, fractional differences wrapped into [-1/2, 1/2] (minimum image).

    The exact periodic distance of any pair closer than half the smallest width of the cell
    (:meth:`aiida_crystalface.core.structures.AtomicStructure.validate`).
    """
    n = frac.shape[0]
    best, bi, bj = np.inf, 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = frac[j, 0] - frac[i, 0]
            dy = frac[j, 1] - frac[i, 1]
            dz = frac[j, 2] - frac[i, 2]
            dx -= np.round(dx)
            dy -= np.round(dy)
            dz -= np.round(dz)
            x = dx * cell[0, 0] + dy * cell[1, 0] + dz * cell[2, 0]
            y = dx * cell[0, 1] + dy * cell[1, 1] + dz * cell[2, 1]
            z = dx * cell[0, 2] + dy * cell[1, 2] + dz * cell[2, 2]
            d2 = x * x + y * y + z * z
            if d2 < best:
                best, bi, bj = d2, i, j
    return best, bi, bj


@nb.njit(cache=True, fastmath=True, parallel=True)
def match_scores(vectors, lengths, candidates, templates, counts, nns, reach, radius, out):  # noqa: PLR0917
    """Share of each atom's neighbour vectors that match one of a candidate window's crystal vectors.

    ``vectors`` (n, k, 3) and ``lengths`` (n, k): each atom's k nearest neighbours; ``candidates`` (n, w): window
    indices; ``templates`` (W, T, 3) with ``counts`` (W,) rows used and ``nns`` (W,) the crystals' nearest-neighbour
    distances. Neighbours within ``reach * nns[c]`` are compared; one matches when within ``radius * nns[c]`` of a
    template vector. Fewer than three neighbours compared, or a window with no crystal: 0.
    (:func:`aiida_crystalface.core.local.assign`).
    """
    n, k = lengths.shape
    w = candidates.shape[1]
    for a in nb.prange(n):  # atoms are independent; thousands of them, worth the threads
        for c in range(w):
            window = candidates[a, c]
            t_count = counts[window]
            out[a, c] = 0.0
            if t_count == 0:
                continue
            cutoff = reach * nns[window]
            tolerance = (radius * nns[window]) ** 2
            compared, matched = 0, 0
            for b in range(k):
                if lengths[a, b] >= cutoff:
                    continue
                compared += 1
                vx, vy, vz = vectors[a, b, 0], vectors[a, b, 1], vectors[a, b, 2]
                for t in range(t_count):
                    dx = vx - templates[window, t, 0]
                    dy = vy - templates[window, t, 1]
                    dz = vz - templates[window, t, 2]
                    if dx * dx + dy * dy + dz * dz < tolerance:
                        matched += 1
                        break
            if compared >= 3:
                out[a, c] = matched / compared


@nb.njit(cache=True)
def greedy_modes(candidates, radius):
    """Keep each candidate (fullest first) unless it lies within ``radius`` of one kept before it."""
    n = candidates.shape[0]
    keep = np.zeros(n, dtype=np.bool_)
    kept = np.empty(n, dtype=np.int64)
    count = 0
    r2 = radius * radius
    for i in range(n):
        near = False
        for j in range(count):
            k = kept[j]
            dx = candidates[i, 0] - candidates[k, 0]
            dy = candidates[i, 1] - candidates[k, 1]
            dz = candidates[i, 2] - candidates[k, 2]
            if dx * dx + dy * dy + dz * dz < r2:
                near = True
                break
        if not near:
            keep[i] = True
            kept[count] = i
            count += 1
    return keep


@nb.njit(cache=True)
def _grid(points, size):
    """Points binned in cubes of edge ``size``: the lower corner, the number of cubes per axis, the start of each
    cube's points in ``order`` (counting sort, cubes in C order) and ``order``."""
    m = points.shape[0]
    lo = np.empty(3)
    dims = np.empty(3, dtype=np.int64)
    for a in range(3):
        low, high = np.inf, -np.inf
        for i in range(m):
            low = min(low, points[i, a])
            high = max(high, points[i, a])
        lo[a] = low
        dims[a] = int(np.floor((high - low) / size)) + 1
    keys = np.empty(m, dtype=np.int64)
    for i in range(m):
        key = 0
        for a in range(3):
            cube = min(int(np.floor((points[i, a] - lo[a]) / size)), dims[a] - 1)
            key = key * dims[a] + cube
        keys[i] = key
    starts = np.zeros(dims[0] * dims[1] * dims[2] + 1, dtype=np.int64)
    for i in range(m):
        starts[keys[i] + 1] += 1
    for c in range(1, starts.shape[0]):
        starts[c] += starts[c - 1]
    fill = starts[:-1].copy()
    order = np.empty(m, dtype=np.int64)
    for i in range(m):
        order[fill[keys[i]]] = i
        fill[keys[i]] += 1
    return lo, dims, starts, order


@nb.njit(cache=True)
def _ball(point, points, radius, lo, dims, starts, order, total):  # noqa: PLR0917
    """Number of ``points`` within ``radius`` of ``point`` (distance <= radius) and, into ``total``, their sum."""
    r2 = radius * radius
    low = np.empty(3, dtype=np.int64)
    high = np.empty(3, dtype=np.int64)
    for a in range(3):
        cube = int(np.floor((point[a] - lo[a]) / radius))
        low[a] = max(cube - 1, 0)
        high[a] = min(cube + 1, dims[a] - 1)
    total[:] = 0.0
    count = 0
    for i in range(low[0], high[0] + 1):
        for j in range(low[1], high[1] + 1):
            for k in range(low[2], high[2] + 1):
                key = (i * dims[1] + j) * dims[2] + k
                for s in range(starts[key], starts[key + 1]):
                    p = order[s]
                    dx = points[p, 0] - point[0]
                    dy = points[p, 1] - point[1]
                    dz = points[p, 2] - point[2]
                    if dx * dx + dy * dy + dz * dz <= r2:
                        count += 1
                        total[0] += points[p, 0]
                        total[1] += points[p, 1]
                        total[2] += points[p, 2]
    return count


@nb.njit(cache=True)
def pair_modes(vectors, owners, radius, seeds, distinct):
    """Modes of a cloud of pair vectors, centres and populations, fullest first (:func:`.local._modes`).

    The candidates are the vectors of the owners below ``seeds``; each is counted (vectors within ``radius``, binned
    in cubes of that edge so that a count looks at 27 cubes), the fullest kept unless within ``distinct`` of one kept;
    each mode's centre is the mean of its vectors, counted again, and the centres are sorted and thinned the same way.
    """
    lo, dims, starts, order = _grid(vectors, radius)
    chosen = np.flatnonzero(owners < seeds)
    total = np.empty(3)
    counts = np.empty(chosen.shape[0], dtype=np.int64)
    for c in range(chosen.shape[0]):
        counts[c] = _ball(vectors[chosen[c]], vectors, radius, lo, dims, starts, order, total)
    ranked = np.ascontiguousarray(vectors[chosen[np.argsort(-counts, kind='mergesort')]])
    modes = ranked[np.flatnonzero(greedy_modes(ranked, distinct))]
    centres = np.empty_like(modes)
    populations = np.empty(modes.shape[0], dtype=np.int64)
    for c in range(modes.shape[0]):
        size = _ball(modes[c], vectors, radius, lo, dims, starts, order, total)
        centres[c] = total / size
    for c in range(modes.shape[0]):
        populations[c] = _ball(centres[c], vectors, radius, lo, dims, starts, order, total)
    ranking = np.argsort(-populations, kind='mergesort')
    centres = np.ascontiguousarray(centres[ranking])
    populations = populations[ranking]
    kept = np.flatnonzero(greedy_modes(centres, distinct))
    return centres[kept], populations[kept]


@nb.njit(cache=True)
def smallest_cell(short):
    """Indices (i < j < k) of the triple of ``short`` (m, 3) of smallest volume among those not flat (volume above
    0.3 times the product of the lengths); the first such triple in i, j, k order on ties; (-1, -1, -1) if none.
    The volume and the product as numpy computes them in :func:`.local._candidate_cell` (cross, then dot)."""
    m = short.shape[0]
    norms = np.empty(m)
    for i in range(m):
        norms[i] = np.sqrt(short[i, 0] * short[i, 0] + short[i, 1] * short[i, 1] + short[i, 2] * short[i, 2])
    best = (-1, -1, -1)
    smallest = np.inf
    for i in range(m):
        for j in range(i + 1, m):
            for k in range(j + 1, m):
                c0 = short[j, 1] * short[k, 2] - short[j, 2] * short[k, 1]
                c1 = short[j, 2] * short[k, 0] - short[j, 0] * short[k, 2]
                c2 = short[j, 0] * short[k, 1] - short[j, 1] * short[k, 0]
                volume = abs(short[i, 0] * c0 + short[i, 1] * c1 + short[i, 2] * c2)
                if volume > 0.3 * norms[i] * norms[j] * norms[k] and volume < smallest:
                    best, smallest = (i, j, k), volume
    return best


@nb.njit(cache=True)
def average_sites(frac, primitive, radius, most):
    """Sites of the average crystal (:func:`aiida_crystalface.core.orientation._average_sites`, at most ``most``
    groups): atoms modulo the lattice grouped greedily around the first atom left (minimum image, within ``radius``
    angstrom), each site its group's mean, the most populated first, groups under a quarter of the largest dropped."""
    n = frac.shape[0]
    wrapped = np.empty((n, 3))
    for i in range(n):
        for a in range(3):
            wrapped[i, a] = frac[i, a] - np.floor(frac[i, a])
    left = np.ones(n, dtype=np.bool_)
    sites = np.empty((min(n, most), 3))
    counts = np.zeros(min(n, most), dtype=np.int64)
    found = 0
    r2 = radius * radius
    delta = np.empty(3)
    for first in range(n):
        if found == most:
            break
        if not left[first]:
            continue
        total = np.zeros(3)
        count = 0
        for i in range(first, n):
            if not left[i]:
                continue
            for a in range(3):
                d = wrapped[i, a] - wrapped[first, a]
                delta[a] = d - np.rint(d)
            x = delta[0] * primitive[0, 0] + delta[1] * primitive[1, 0] + delta[2] * primitive[2, 0]
            y = delta[0] * primitive[0, 1] + delta[1] * primitive[1, 1] + delta[2] * primitive[2, 1]
            z = delta[0] * primitive[0, 2] + delta[1] * primitive[1, 2] + delta[2] * primitive[2, 2]
            if x * x + y * y + z * z < r2:
                left[i] = False
                count += 1
                for a in range(3):
                    total[a] += delta[a]
        for a in range(3):
            sites[found, a] = wrapped[first, a] + total[a] / count
        counts[found] = count
        found += 1
    order = np.argsort(-counts[:found], kind='mergesort')
    largest = counts[:found].max()
    keep = np.array([i for i in order if counts[i] >= 0.25 * largest], dtype=np.int64)
    return sites[keep]


@nb.njit(cache=True)
def _det3(m):
    return (
        m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1])
        - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
        + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0])
    )


@nb.njit(cache=True)
def conventional_cell(sites, primitive, coefficients, shifts, short):
    """The ideal crystal's nearest-neighbour distance and its most cubic conventional triple, handedness chosen.

    What :func:`aiida_crystalface.core.orientation._site_nn_distance`, ``_most_cubic_triple`` and
    ``_canonical_handedness`` compute in turn, in one call: ``sites`` (s, 3) fractional in ``primitive`` (3, 3);
    ``coefficients`` the integer combinations tried as cell edges, ``shifts`` the lattice translations, ``short``
    the length limit of the edges (over the shortest).
    """
    s = sites.shape[0]
    cart = sites @ primitive
    moves = shifts @ primitive
    # nearest-neighbour distance of the sites repeated by the lattice
    best = np.inf
    for i in range(s):
        for j in range(s):
            for t in range(moves.shape[0]):
                x = cart[i, 0] - cart[j, 0] + moves[t, 0]
                y = cart[i, 1] - cart[j, 1] + moves[t, 1]
                z = cart[i, 2] - cart[j, 2] + moves[t, 2]
                d2 = x * x + y * y + z * z
                if 1e-12 < d2 < best:
                    best = d2
    nn = np.sqrt(best)
    # the most cubic triple of short lattice vectors, right-handed
    vectors = coefficients @ primitive
    m = vectors.shape[0]
    lengths = np.empty(m)
    for i in range(m):
        lengths[i] = np.sqrt(vectors[i, 0] ** 2 + vectors[i, 1] ** 2 + vectors[i, 2] ** 2)
    limit = short * lengths.min() * (1 + 1e-9)
    candidates = np.ascontiguousarray(vectors[np.flatnonzero(lengths <= limit)])
    i, j, k = most_cubic_triple(candidates)
    if i < 0:  # the short vectors are coplanar (a flat cell): look among all of them
        candidates = vectors
        i, j, k = most_cubic_triple(candidates)
    triple = np.empty((3, 3))
    triple[0], triple[1], triple[2] = candidates[i], candidates[j], candidates[k]
    if _det3(triple) < 0:
        triple[2] = -triple[2]
    # handedness: the sign of the mean x y z product of the first site's neighbours, in the triple's frame
    inverse = np.linalg.inv(triple)
    total, magnitude, count = 0.0, 0.0, 0
    for t in range(moves.shape[0]):
        for j in range(s):
            x = cart[j, 0] - cart[0, 0] + moves[t, 0]
            y = cart[j, 1] - cart[0, 1] + moves[t, 1]
            z = cart[j, 2] - cart[0, 2] + moves[t, 2]
            length = np.sqrt(x * x + y * y + z * z)
            if length > 1e-6 and length < 1.1 * nn:
                product = 1.0
                for a in range(3):
                    product *= x * inverse[0, a] + y * inverse[1, a] + z * inverse[2, a]
                total += product
                magnitude += abs(product)
                count += 1
    if count > 0 and total / count < -1e-6 * (magnitude / count + 1e-300):
        turned = np.empty((3, 3))
        turned[0], turned[1], turned[2] = triple[1], -triple[0], triple[2]
        return nn, turned
    return nn, triple


@nb.njit(cache=True)
def block_members(base, steps, repeats):
    """The (image, atom) pairs whose point ``base[atom] + steps[image]`` lies in the box [0, repeats) (half-open).

    ``base`` (n, 3) and ``steps`` (m, 3) are in the block's conventional coordinates (the atoms relative to the
    block's origin, and the cell translations to try); returns a (count, 2) array, image-major, atoms in order within
    an image (the order of the NumPy expression it replaces, so the cluster's atoms come out in the same order).
    """
    n, m = base.shape[0], steps.shape[0]
    out = np.empty((n * m, 2), dtype=np.int64)
    count = 0
    r0, r1, r2 = repeats[0], repeats[1], repeats[2]
    for s in range(m):
        sx, sy, sz = steps[s, 0], steps[s, 1], steps[s, 2]
        for a in range(n):
            x = base[a, 0] + sx
            if x < 0.0 or x >= r0:
                continue
            y = base[a, 1] + sy
            if y < 0.0 or y >= r1:
                continue
            z = base[a, 2] + sz
            if z < 0.0 or z >= r2:
                continue
            out[count, 0] = s
            out[count, 1] = a
            count += 1
    return out[:count]


@nb.njit(cache=True)
def image_pairs(frac, cell, shifts, reach2, first, second, distance):  # noqa: PLR0917
    """The pairs i <= j of atoms (fractional ``frac`` in ``cell``) closer than ``sqrt(reach2)`` over the image
    ``shifts`` (rows of whole cell vectors, about the minimum image), each unordered pair once (an atom and its own
    image: one of each shift and its opposite). The first ``len(first)`` of them are written to ``first``,
    ``second``, ``distance``; returns how many there are (more than ``len(first)``: call again with arrays that
    size)."""
    capacity = first.shape[0]
    count = 0
    n = frac.shape[0]
    for i in range(n):
        for j in range(i, n):
            d0 = frac[j, 0] - frac[i, 0]
            d1 = frac[j, 1] - frac[i, 1]
            d2 = frac[j, 2] - frac[i, 2]
            d0 -= np.floor(d0 + 0.5)
            d1 -= np.floor(d1 + 0.5)
            d2 -= np.floor(d2 + 0.5)
            for k in range(shifts.shape[0]):
                s0, s1, s2 = shifts[k, 0], shifts[k, 1], shifts[k, 2]
                if i == j and not (s0 > 0 or (s0 == 0 and (s1 > 0 or (s1 == 0 and s2 > 0)))):
                    continue  # an atom and its own image: each pair of images once (shift and -shift alike)
                e0, e1, e2 = d0 + s0, d1 + s1, d2 + s2
                x = e0 * cell[0, 0] + e1 * cell[1, 0] + e2 * cell[2, 0]
                y = e0 * cell[0, 1] + e1 * cell[1, 1] + e2 * cell[2, 1]
                z = e0 * cell[0, 2] + e1 * cell[1, 2] + e2 * cell[2, 2]
                r2 = x * x + y * y + z * z
                if r2 < reach2:
                    if count < capacity:
                        first[count] = i
                        second[count] = j
                        distance[count] = np.sqrt(r2)
                    count += 1
    return count


@nb.njit(cache=True)
def shell_statistics(shell, first, second, dealt, expected, symmetric):  # noqa: PLR0917
    """The arrangement statistic of :func:`aiida_crystalface.core.ordering.arrangement_z` for each labelling.

    ``shell``, ``first``, ``second`` (m,): each counted pair's shell and atoms; ``dealt`` (P, n): P labellings of
    the atoms (element indices); ``expected`` (shells, s, s): the counts expected under random relabelling of the
    pairs counted both ways. ``symmetric``: the pairs are listed once (i < j) and stand for both ways, (a, b) and
    (b, a) (the same counts as listing both, at half the work). Returns (P,) float64: sum over shells and element
    pairs of (observed - expected)^2 / (expected + 1).
    """
    labellings = dealt.shape[0]
    shells, s = expected.shape[0], expected.shape[1]
    out = np.empty(labellings, dtype=np.float64)
    counts = np.empty((shells, s, s), dtype=np.float64)
    for p in range(labellings):
        counts[:] = 0.0
        labels = dealt[p]
        for k in range(shell.shape[0]):
            counts[shell[k], labels[first[k]], labels[second[k]]] += 1.0
        total = 0.0
        for a in range(shells):
            for b in range(s):
                for c in range(s):
                    o = counts[a, b, c] + counts[a, c, b] if symmetric else counts[a, b, c]
                    d = o - expected[a, b, c]
                    total += d * d / (expected[a, b, c] + 1.0)
        out[p] = total
    return out
