"""volbatch.Dataset: one N5 / Zarr v2 / Zarr v3 array on disk, read and written with numpy's
basic indexing. This half applies numpy's rules (integers, slices, ``...``, ``None``, negative
indices, squeezing) and checks every write before a byte is written; the native half
(python/src/datasets.cc) moves the bytes with the GIL released. Reads are zero-copy (the
library decodes into the buffer the returned array owns); writes copy the value once.
"""
import json
import math
import operator
import os
import types

import numpy as np

from . import _volbatch as _vb

__all__ = ["Dataset", "open", "create", "copy"]


class _Selection:
    """What a key selects: the bounding region to read or write and how to index it."""
    __slots__ = ("begin", "extent", "post", "shape", "trivial", "strided")

    def __init__(self, begin, extent, post, shape, trivial, strided):
        self.begin, self.extent, self.post = begin, extent, post
        self.shape, self.trivial, self.strided = shape, trivial, strided


def _select(key, shape):
    """numpy basic indexing of an array of `shape` by `key`, as a bounding region plus the
    index (`post`) that turns the region into numpy's result."""
    if not isinstance(key, tuple):
        key = (key,)
    ellipses = sum(k is Ellipsis for k in key)
    if ellipses > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > len(shape):
        raise IndexError(f"too many indices for dataset: dataset is {len(shape)}-dimensional, "
                         f"but {consumed} were indexed")
    if not ellipses:
        key = key + (Ellipsis,)
    begin, extent, post, out = [], [], [], []
    trivial, strided, axis = True, False, 0
    for k in key:
        if k is Ellipsis:
            for _ in range(len(shape) - consumed):
                begin.append(0)
                extent.append(shape[axis])
                post.append(slice(None))
                out.append(shape[axis])
                axis += 1
            continue
        if k is None:
            post.append(None)
            out.append(1)
            trivial = False
            continue
        n = shape[axis]
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            count = len(range(start, stop, step))
            if count == 0:
                b, e, local = 0, 0, slice(None)
            elif step > 0:
                b, e = start, (count - 1) * step + 1
                local = slice(None) if step == 1 or count == 1 else slice(None, None, step)
            else:
                b, e = start + (count - 1) * step, (count - 1) * -step + 1
                local = slice(None) if count == 1 else slice(None, None, step)
            if local != slice(None):
                trivial, strided = False, True
            out.append(count)
        else:
            if isinstance(k, (bool, np.bool_)):
                raise IndexError("boolean indices are not supported by volbatch datasets; read a "
                                 "region and index the numpy array")
            try:
                i = operator.index(k)
            except TypeError:
                raise IndexError(
                    "only integers, slices (`:`), ellipsis (`...`) and None (`numpy.newaxis`) "
                    f"index a volbatch dataset, not {type(k).__name__}; read a region and index "
                    "the numpy array for fancy indexing") from None
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
            b, e, local = i % n, 1, 0
            trivial = False
        begin.append(b)
        extent.append(e)
        post.append(local)
        axis += 1
    return _Selection(begin, extent, tuple(post), tuple(out), trivial, strided)


def _fill_json(v):
    """A fill value as the library's JSON: numbers, booleans, "NaN", "Infinity", "-Infinity"."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, (bool, int, float, str)):
        return v
    raise _vb.InvalidArgument(f"fill_value: {v!r} is not a number")


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    raise TypeError(f"{type(v).__name__} is not JSON")


def _shape_list(v, what):
    if v is None:
        return None
    if isinstance(v, (int, np.integer)):
        v = (v,)
    try:
        return [operator.index(x) for x in v]
    except TypeError:
        raise _vb.InvalidArgument(f"{what}: a sequence of integers, got {v!r}") from None


def _dtype_name(dtype):
    dt = np.dtype(dtype)
    if dt.kind not in "biuf":
        raise _vb.InvalidArgument(f"dtype: {dt} is not supported (bool, int8..int64, "
                                  "uint8..uint64, float16, float32, float64)")
    return dt.name


def _path(p):
    return p.path if isinstance(p, Dataset) else os.fspath(p)


class Dataset:
    """A chunked array on disk (N5, Zarr v2 or Zarr v3). ``ds[key]`` reads and ``ds[key] = v``
    writes with numpy's basic indexing; every read goes to disk (there is no cache).

    Writes: a value must be a numpy array whose dtype equals the dataset's or casts to it
    safely (``np.can_cast(value.dtype, ds.dtype, "safe")``: uint8 into uint16 or float32, not
    float64 into float32), or Python numbers / lists whose values the dataset's dtype holds
    exactly (floats are rounded into a float dataset); its shape must broadcast to the
    selection. Anything else raises volbatch.InvalidArgument (a ValueError) before a byte is
    written. Slices with a step other than 1 read, but do not write (volbatch.Unsupported)."""

    __slots__ = ("_h",)

    def __init__(self, handle):
        if not isinstance(handle, _vb._Dataset):
            raise TypeError("use volbatch.open(path) or volbatch.create(...)")
        self._h = handle

    # ---- what it is ------------------------------------------------------------------------
    path = property(lambda self: self._h.path, doc="the array's directory")
    format = property(lambda self: self._h.format, doc='"n5", "zarr2" or "zarr3"')
    shape = property(lambda self: self._h.shape)
    dtype = property(lambda self: self._h.dtype, doc="a numpy dtype (native byte order)")
    chunks = property(lambda self: self._h.chunks, doc="the chunk shape (inner chunks if sharded)")
    shards = property(lambda self: self._h.shards, doc="the shard shape (Zarr v3), or None")
    fill_value = property(lambda self: self._h.fill_value, doc="what unwritten chunks read as")
    codecs = property(lambda self: self._h.codecs, doc='e.g. "bytes(little) | zstd(level=3)"')

    @property
    def attrs(self):
        """The array's user attributes, read-only (volbatch writes attributes only when it
        creates an array: volbatch.create(..., attrs={...}))."""
        return types.MappingProxyType(self._h.attrs)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    def info(self):
        """What `volbatch info --json` prints: layout, codecs, metadata, attributes."""
        return self._h.info()

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        shards = f" shards={self.shards}" if self.shards else ""
        return (f"<volbatch.Dataset {self.path!r} {self.format} shape={self.shape} "
                f"dtype={self.dtype} chunks={self.chunks}{shards}>")

    def __array__(self, dtype=None, copy=None):
        a = self[...]  # a new array every time, whatever `copy` asks
        return a if dtype is None else a.astype(dtype, copy=False)

    # ---- reading and writing ---------------------------------------------------------------
    def __getitem__(self, key):
        s = _select(key, self.shape)
        a = self._h.read(s.begin, s.extent)
        if s.trivial:
            return a
        r = a[s.post]
        # A strided selection is a view of the bounding region: keep only what was asked for.
        return np.ascontiguousarray(r) if s.strided and isinstance(r, np.ndarray) else r

    def __setitem__(self, key, value):
        s = _select(key, self.shape)
        if s.strided:
            raise _vb.Unsupported(f"{self.path}: writing with a slice step other than 1 is not "
                                  "supported; write the region whole")
        value = self._checked_value(value, s.shape)
        self._h.write(s.begin, s.extent, np.broadcast_to(value, s.shape).reshape(s.extent))

    def _checked_value(self, value, shape):
        dtype = self.dtype
        typed = isinstance(value, (np.ndarray, np.generic))
        a = np.asarray(value)
        if a.dtype.kind not in "biuf":
            raise _vb.InvalidArgument(f"{self.path}: cannot write {a.dtype} values into a "
                                      f"{dtype} dataset")
        if a.dtype != dtype and not np.can_cast(a.dtype, dtype, casting="safe"):
            if typed:
                raise _vb.InvalidArgument(
                    f"{self.path}: cannot write {a.dtype} data into a {dtype} dataset without "
                    f"loss; cast it first (value.astype(numpy.{dtype}))")
            a = self._exact(a, value)
        try:
            fits = np.broadcast_shapes(a.shape, shape) == tuple(shape)
        except ValueError:
            fits = False
        if not fits:
            raise _vb.InvalidArgument(
                f"{self.path}: cannot write an array of shape {a.shape} into a selection of "
                f"shape {tuple(shape)}")
        return a

    def _exact(self, a, value):
        """Python numbers and lists have no dtype of their own: they are written when the
        dataset's dtype holds them (floats rounded into a float dataset, integers exactly)."""
        dtype = self.dtype
        with np.errstate(all="ignore"):
            cast = a.astype(dtype)
            if dtype.kind == "f":
                ok = np.array_equal(np.isfinite(cast), np.isfinite(a))
            else:
                ok = a.dtype.kind != "f" or np.all(np.isfinite(a))
                ok = ok and np.array_equal(cast.astype(a.dtype), a)
        if not ok:
            shown = repr(value) if a.size <= 8 else f"an array of {a.dtype}"
            raise _vb.InvalidArgument(f"{self.path}: {shown} does not fit a {dtype} dataset")
        return cast


def open(path):  # noqa: A001 (volbatch.open, like zarr.open)
    """Opens the N5, Zarr v2 or Zarr v3 array at `path` (its own directory); the format is
    detected from the metadata. Raises volbatch.NotFound naming the path."""
    return Dataset(_vb._open(os.fspath(path)))


def create(path, shape=None, dtype=None, chunks=None, codec="zstd:3", shards=None, format=None,
           fill_value=None, overwrite=False, attrs=None, data=None):
    """Creates an array (and its container and parent groups) and returns it.

    format: "n5", "zarr2" or "zarr3"; default from the path (a ".n5" container: N5, else Zarr
    v3). codec: a SPEC ("raw", "gzip:6", "zstd:3", "lz4", "blosc:lz4:5:shuffle", ...).
    chunks: default about 1 MiB. shards: Zarr v3 only. data: an array to write (shape and dtype
    default to its own). An existing array raises volbatch.AlreadyExists unless overwrite."""
    if data is not None:
        data = np.asarray(data)
        shape = data.shape if shape is None else shape
        dtype = data.dtype if dtype is None else dtype
    if shape is None or dtype is None:
        raise _vb.InvalidArgument("create: shape and dtype are required (or pass data=)")
    ds = Dataset(_vb._create(
        os.fspath(path), _shape_list(shape, "shape"), _dtype_name(dtype),
        _shape_list(chunks, "chunks"), str(codec), _shape_list(shards, "shards"), format or "",
        json.dumps(_fill_json(fill_value)), bool(overwrite),
        json.dumps(dict(attrs or {}), default=_json_default)))
    if data is not None:
        ds[...] = data
    return ds


def copy(src, dst, chunks=None, codec=None, shards=None, format=None, fill_value=None,
         overwrite=False):
    """Copies the array `src` (a path or a Dataset) to a new array `dst`, optionally in another
    format, chunking, sharding or codec (default: the source's chunks, zstd:3), and returns it."""
    return Dataset(_vb._copy(
        _path(src), os.fspath(dst), _shape_list(chunks, "chunks"),
        None if codec is None else str(codec), _shape_list(shards, "shards"), format or "",
        json.dumps(_fill_json(fill_value)), bool(overwrite)))
