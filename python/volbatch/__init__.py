"""volbatch: chunked N5 / Zarr volumes, block-wise jobs and training windows, from Python.

    ds = volbatch.open("data.n5/raw")          # N5, Zarr v2 or Zarr v3
    a = ds[10:20, :, 5]                         # numpy basic indexing, zero-copy reads
    out = volbatch.create("out.zarr/x", shape=ds.shape, dtype="float32", chunks=(64, 64, 64))
    out[...] = a.astype("float32")              # checked before anything is written
    volbatch.run("job.toml")                    # or prepare() + work(jobdir, i, n) anywhere

The native part is the `_volbatch` extension built with the C++ library (pybind11); errors are
volbatch.Error subclasses (NotFound, InvalidArgument, ...) carrying the library's message."""
from ._volbatch import *  # noqa: F401,F403
from ._dataset import Dataset, copy, create, open  # noqa: F401,A004
from ._jobs import blocks, cleanup, executable, prepare, run, status, work  # noqa: F401
