"""Row operations on 16 float32 lanes at a time, for the compiled trainer (`gmia.zoo.compiled`).

The compiled trainer keeps each layer's activations as rows of a few dozen floats (widths padded
to a multiple of `LANES`). numba's own loops over such short rows run scalar: LLVM's loop
vectoriser wants 64 iterations before its vector body pays (16 lanes, interleaved four times),
numba leaves the straight-line (SLP) vectoriser off, and it cannot tell that the row written and
the rows read are different arrays. These numba intrinsics emit the vector loops themselves, as
LLVM IR: ``<16 x float>`` loads, ``llvm.fmuladd`` and one store per output row, accumulators held
in registers. Each call covers a whole batch (a loop over records inside), because a call's
set-up in a kernel as large as the trainer's (reloading spilled registers) costs as much as a
short row's arithmetic. The order of every sum is fixed by the code, so the same input gives the
same bits on every call.

Arrays are 1-D float32 (column indices uint32) addressed by element offsets and strides; row
lengths ``n`` must be multiples of `STEP` (8), which the caller's padding guarantees: a row runs
16 lanes at a time, then 8 if 8 are left. Nothing is bounds-checked.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 16  # the widest row operation: one 512-bit register
STEP = 8  # rows are padded to a multiple of this, so a narrow layer (5 units, 2 classes) is one 8-lane operation
CHAINS = 4  # independent accumulators per sum: one FMA's 4-cycle latency no longer paces it
_F32 = ir.FloatType()
_I32 = ir.IntType(32)
_INTP = types.intp


def _vec(lanes):
    return ir.VectorType(_F32, lanes)


def _data(context, builder, arrty, arr):
    return context.make_array(arrty)(context, builder, arr).data


def _pointers(context, builder, signature, args, *which):
    """The data pointers of the array arguments at positions ``which``."""
    return [_data(context, builder, signature.args[i], args[i]) for i in which]


def _nonzeros_at(builder, at, rstride, nnz, r):
    """Where record r's columns and its values start in a gathered batch (`sparse_rows`)."""
    q0 = builder.add(at, builder.mul(r, rstride))
    return q0, builder.add(q0, nnz)


def _row(builder, base, index, lanes):
    """Pointer to the ``lanes`` floats at ``base[index]``."""
    return builder.bitcast(builder.gep(base, [index], inbounds=True), _vec(lanes).as_pointer())


def _load(builder, base, index):
    return builder.load(builder.gep(base, [index], inbounds=True))


def _splat(builder, value, lanes):
    v = builder.insert_element(ir.Constant(_vec(lanes), ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, ir.Constant(_vec(lanes), ir.Undefined), ir.Constant(ir.VectorType(_I32, lanes), [0] * lanes))


def _fmuladd(builder, lanes):
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(_vec(lanes), [_vec(lanes)] * 3),
                                          f"llvm.fmuladd.v{lanes}f32")


def _range(builder, stop, step=1):
    return cgutils.for_range_slice(builder, ir.Constant(stop.type, 0), stop, ir.Constant(stop.type, step))


def _each_chunk(builder, n, body):
    """``body(offset, lanes)`` over a row of ``n`` floats (a multiple of `STEP`): 16-lane chunks,
    then one 8-lane chunk when ``n`` is an odd multiple of 8."""
    full = builder.and_(n, ir.Constant(n.type, -LANES))
    with cgutils.for_range_slice(builder, ir.Constant(n.type, 0), full, ir.Constant(n.type, LANES)) as (j, _):
        body(j, LANES)
    with builder.if_then(builder.icmp_unsigned("!=", full, n)):
        body(full, STEP)


def _sum_rows(builder, start, count, coefficient, row, lanes):
    """``start + sum_{t < count} coefficient(t) · row(t)`` (vectors), the rows dealt round `CHAINS`
    accumulators (row t to accumulator t mod CHAINS) that are added up at the end in a fixed order."""
    fma = _fmuladd(builder, lanes)
    accs = [cgutils.alloca_once(builder, _vec(lanes)) for _ in range(CHAINS)]  # registers after LLVM's mem2reg
    builder.store(start, accs[0])
    for acc in accs[1:]:
        builder.store(ir.Constant(_vec(lanes), None), acc)
    chains = ir.Constant(count.type, CHAINS)
    full = builder.udiv(count, chains)
    with cgutils.for_range(builder, full) as loop:
        base = builder.mul(loop.index, chains)
        for u, acc in enumerate(accs):
            t = builder.add(base, ir.Constant(count.type, u))
            builder.store(builder.call(fma, [_splat(builder, coefficient(t), lanes), row(t), builder.load(acc)]), acc)
    with cgutils.for_range_slice(builder, builder.mul(full, chains), count, ir.Constant(count.type, 1)) as (t, _):
        builder.store(builder.call(fma, [_splat(builder, coefficient(t), lanes), row(t), builder.load(accs[0])]), accs[0])
    left = builder.fadd(builder.load(accs[0]), builder.load(accs[1]))
    right = builder.fadd(builder.load(accs[2]), builder.load(accs[3]))
    return builder.fadd(left, right)


@intrinsic
def dense_rows(typingctx, out, oi, ostride, start, sti, ststride, coef, ci, crstride, cstride, src, si, sstride, count,
               n, records):
    """For each record ``r < records``, with ``o = oi + r·ostride`` and ``c = ci + r·crstride``::

        out[o : o+n] = start[sti + r·ststride : +n] + sum_{t < count} coef[c + t·cstride] · src[si + t·sstride : +n]

    One primitive for every dense product of the trainer: a layer's forward rows (coefficients a
    record's activations, rows those of W, start the bias), a weight gradient (records the rows
    of W, coefficients a column of activations over the batch, rows the batch's deltas, start
    the gradient so far), a bias gradient (coefficient stride 0 on a 1) and the deltas sent back
    (rows those of W transposed, start zeros).
    """
    sig = types.void(out, _INTP, _INTP, start, _INTP, _INTP, coef, _INTP, _INTP, _INTP, src, _INTP, _INTP, _INTP, _INTP, _INTP)

    def codegen(context, builder, signature, args):
        out, oi, ostride, start, sti, ststride, coef, ci, crstride, cstride, src, si, sstride, count, n, records = args
        po, pst, pc, ps = _pointers(context, builder, signature, args, 0, 3, 6, 10)
        with _range(builder, records) as (r, _):
            o = builder.add(oi, builder.mul(r, ostride))
            st = builder.add(sti, builder.mul(r, ststride))
            c = builder.add(ci, builder.mul(r, crstride))

            def chunk(j, lanes):
                total = _sum_rows(
                    builder, builder.load(_row(builder, pst, builder.add(st, j), lanes), align=4), count,
                    lambda t: _load(builder, pc, builder.add(c, builder.mul(t, cstride))),
                    lambda t: builder.load(_row(builder, ps, builder.add(builder.add(si, builder.mul(t, sstride)), j), lanes),
                                           align=4), lanes)
                builder.store(total, _row(builder, po, builder.add(o, j), lanes), align=4)

            _each_chunk(builder, n, chunk)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def sparse_rows(typingctx, out, oi, start, sti, cols, vals, at, rstride, nnz, src, si, sstride, n, records):
    """Sparse records times a weight matrix: for each record ``r < records``, with ``q_r = at + r·rstride``::

        out[oi + r·n : +n] = start[sti : +n] + sum_{q < nnz} vals[q_r + nnz + q] · src[si + cols[q_r + q]·sstride : +n]

    Record r's non-zero columns (``cols``, uint32) and then their values (``vals``, float32: the
    same memory seen as floats) start at ``q_r`` (`gmia.zoo.compiled.Records`)."""
    sig = types.void(out, _INTP, start, _INTP, cols, vals, _INTP, _INTP, _INTP, src, _INTP, _INTP, _INTP, _INTP)

    def codegen(context, builder, signature, args):
        out, oi, start, sti, cols, vals, at, rstride, nnz, src, si, sstride, n, records = args
        po, pst, pcol, pv, ps = _pointers(context, builder, signature, args, 0, 2, 4, 5, 9)
        with _range(builder, records) as (r, _):
            q0, v0 = _nonzeros_at(builder, at, rstride, nnz, r)
            o = builder.add(oi, builder.mul(r, n))

            def chunk(j, lanes):
                def row(t):
                    col = builder.zext(_load(builder, pcol, builder.add(q0, t)), n.type)
                    return builder.load(_row(builder, ps, builder.add(builder.add(si, builder.mul(col, sstride)), j), lanes),
                                        align=4)

                total = _sum_rows(builder, builder.load(_row(builder, pst, builder.add(sti, j), lanes), align=4), nnz,
                                  lambda t: _load(builder, pv, builder.add(v0, t)), row, lanes)
                builder.store(total, _row(builder, po, builder.add(o, j), lanes), align=4)

            _each_chunk(builder, n, chunk)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def sparse_scatter(typingctx, out, oi, ostride, cols, vals, at, rstride, nnz, src, si, n, records):
    """The weight gradient of a sparse first layer: for each record ``r < records`` and ``q < nnz``,
    with ``q_r = at + r·rstride`` as in `sparse_rows`::

        out[oi + cols[q_r + q]·ostride : +n] += vals[q_r + nnz + q] · src[si + r·n : +n]

    A record's non-zeros are in different columns, so its updates touch different rows and do
    not wait on each other's stores."""
    sig = types.void(out, _INTP, _INTP, cols, vals, _INTP, _INTP, _INTP, src, _INTP, _INTP, _INTP)

    def codegen(context, builder, signature, args):
        out, oi, ostride, cols, vals, at, rstride, nnz, src, si, n, records = args
        po, pcol, pv, ps = _pointers(context, builder, signature, args, 0, 3, 4, 8)
        with _range(builder, records) as (r, _):
            q0, v0 = _nonzeros_at(builder, at, rstride, nnz, r)

            def chunk(j, lanes):
                fma = _fmuladd(builder, lanes)
                row = builder.load(_row(builder, ps, builder.add(builder.add(si, builder.mul(r, n)), j), lanes), align=4)
                with _range(builder, nnz) as (t, _):
                    col = builder.zext(_load(builder, pcol, builder.add(q0, t)), n.type)
                    dst = _row(builder, po, builder.add(builder.add(oi, builder.mul(col, ostride)), j), lanes)
                    value = _splat(builder, _load(builder, pv, builder.add(v0, t)), lanes)
                    builder.store(builder.call(fma, [value, row, builder.load(dst, align=4)]), dst, align=4)

            _each_chunk(builder, n, chunk)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def copy_rows(typingctx, out, src, rows, n):
    """``out[b·n : +n] = src[rows[b]·n : +n]`` for each ``b``: a batch's records, gathered."""
    sig = types.void(out, src, rows, _INTP)

    def codegen(context, builder, signature, args):
        out, src, rows, n = args
        po, ps, prow = _pointers(context, builder, signature, args, 0, 1, 2)
        count = context.make_array(signature.args[2])(context, builder, rows).nitems
        with _range(builder, count) as (b, _):
            at = builder.mul(_load(builder, prow, b), n)

            def chunk(j, lanes):
                value = builder.load(_row(builder, ps, builder.add(at, j), lanes), align=4)
                builder.store(value, _row(builder, po, builder.add(builder.mul(b, n), j), lanes), align=4)

            _each_chunk(builder, n, chunk)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def prefetch(typingctx, arr, index):
    """Ask the cache for the line holding ``arr.flat[index]`` (``llvm.prefetch``, for reading)."""
    sig = types.void(arr, _INTP)

    def codegen(context, builder, signature, args):
        arr, index = args
        base = _data(context, builder, signature.args[0], arr)
        address = builder.bitcast(builder.gep(base, [index], inbounds=True), ir.IntType(8).as_pointer())
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [address.type, _I32, _I32, _I32]), "llvm.prefetch.p0")
        builder.call(fn, [address, ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return sig, codegen
