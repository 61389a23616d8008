"""volbatch.torch: random training windows as a torch IterableDataset.

    from volbatch.torch import WindowDataset
    ds = WindowDataset([{"path": "data.zarr/raw", "normalize": [0, 255]},
                        {"path": "data.zarr/labels", "kind": "label"}],
                       window=(32, 128, 128), batch_size=8, seed=1, length=10000,
                       flip=True, rotate=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    for epoch in range(10):
        ds.set_epoch(epoch)
        for batch in loader:
            batch["raw"], batch["labels"]   # [8, 32, 128, 128] float32, int64

Each DataLoader worker builds its own volbatch.WindowSampler (C++ prefetch threads, its own
chunk cache). Worker w of n takes the batches w, w + n, w + 2n, ... of the global sequence
(batch j holds windows j * batch_size ... (j + 1) * batch_size - 1), so the workers never
compute the same window, and since the DataLoader takes items from its workers in turn, the
batches come out in the order one process gives. Windows are a pure function of
(seed, epoch, index); set_epoch(e) moves to the windows [e * length, (e + 1) * length).

Batch in the dataset (batch_size=B) and give the DataLoader batch_size=None: a worker then
writes each batch straight from the sampler's buffers into a slot of a shared-memory arena
it reuses, and the main process maps the arena once and wraps the slot as tensors (no copy,
no fresh memory per batch). A slot returns to its worker when every tensor of its batch has
been freed; a worker with no free slot (the training loop holds many batches) falls back to
ordinary tensors, which the DataLoader copies into fresh shared memory as usual. With
batch_size=None the dataset yields single windows (zero-copy numpy buffers wrapped as
tensors) for the DataLoader to collate.

The class index (balance=...) is built once, where the dataset is created, and handed to the
workers. Stored dtypes torch 1.13 lacks are delivered as the nearest signed type (uint16 ->
int32, uint32 / uint64 -> int64, range-checked) unless a source names its own dtype.
"""
import mmap
import os
import weakref
from multiprocessing import reduction

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from . import _volbatch

_TORCH_WIDER = {"uint16": "int32", "uint32": "int64", "uint64": "int64"}


def _info_to_torch(info):
    """A window's info in types default_collate batches: slices become [begin, end) rows,
    absent values (None) are left out."""
    out = {}
    for k, v in info.items():
        if v is None:
            continue
        if k == "slices":
            out[k] = {n: torch.tensor([[s.start, s.stop] for s in sl]) for n, sl in v.items()}
        elif k == "flip":
            out[k] = torch.tensor(v, dtype=torch.bool)
        elif isinstance(v, np.ndarray):
            out[k] = torch.from_numpy(v)
        else:
            out[k] = torch.tensor(v)
    return out


def _to_torch(window):
    return {k: _info_to_torch(v) if k == "info" else torch.from_numpy(v)
            for k, v in window.items()}


def _batch_info(infos):
    """Per-window infos of a batch, stacked like default_collate would."""
    per = [_info_to_torch(i) for i in infos]
    out = {}
    for k in per[0]:
        if k == "slices":
            out[k] = {n: torch.stack([p[k][n] for p in per]) for n in per[0][k]}
        elif all(k in p for p in per):
            out[k] = torch.stack([p[k] for p in per])
    return out


# ---- shared-memory batches -------------------------------------------------------------------

_HEADER = 4096  # slot states (int32 each: 0 free, 1 in use), then the slots
_PAGE = 4096


class _Arena:
    """Worker side: `slots` batch-sized slots in one memfd, reused as the main process frees
    them. Only the worker marks a slot in use, only the main process marks it free."""

    def __init__(self, layout, slots):
        self.layout = []  # (name, dtype, shape, offset, nbytes) for a full batch
        off = 0
        for name, dtype, shape in layout:
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            self.layout.append((name, np.dtype(dtype).str, tuple(shape), off, nbytes))
            off += (nbytes + _PAGE - 1) // _PAGE * _PAGE
        self.slot_bytes = off
        self.slots = slots
        self.size = _HEADER + slots * self.slot_bytes
        self.fd = os.memfd_create("volbatch-windows", os.MFD_CLOEXEC)
        os.ftruncate(self.fd, self.size)
        self.map = mmap.mmap(self.fd, self.size)
        self.state = np.frombuffer(self.map, np.int32, count=slots)
        self.key = (os.getpid(), id(self), os.fstat(self.fd).st_ino)

    def acquire(self):
        free = np.flatnonzero(self.state == 0)
        if free.size == 0:
            return None
        k = int(free[0])
        self.state[k] = 1
        return k

    def views(self, k, count):
        base = _HEADER + k * self.slot_bytes
        return {name: np.frombuffer(self.map, dtype, count=count * int(np.prod(shape[1:])),
                                    offset=base + off).reshape((count,) + shape[1:])
                for name, dtype, shape, off, _ in self.layout}

    def __del__(self):
        # Not when the iteration ends: the DataLoader's queue pickles the last batches (and
        # duplicates the fd) from a feeder thread after the generator has moved on.
        self.state = None
        try:
            self.map.close()
        except (AttributeError, BufferError, ValueError):
            pass
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)


class _SharedBatch:
    """What a worker yields: pickled for the DataLoader's queue as (arena fd, slot, layout);
    unpickled in the main process as a dict of tensors over the mapped slot."""

    def __init__(self, arena, slot, count, info):
        self.arena, self.slot, self.count, self.info = arena, slot, count, info

    def __reduce__(self):
        a = self.arena
        return (_rebuild_batch, (a.key, reduction.DupFd(a.fd), a.size, a.slots, a.slot_bytes,
                                 a.layout, self.slot, self.count, self.info))


_MAPPED = weakref.WeakValueDictionary()  # arena key -> mmap, alive while a batch uses it


class _Release:
    """Frees a slot once every array of its batch has been garbage collected."""

    def __init__(self, mapping, slot, n):
        self.mapping, self.slot, self.left = mapping, slot, n

    def __call__(self):
        self.left -= 1
        if self.left == 0:
            np.frombuffer(self.mapping, np.int32, count=self.slot + 1)[self.slot] = 0
            self.mapping = None


def _rebuild_batch(key, dupfd, size, slots, slot_bytes, layout, slot, count, info):
    fd = dupfd.detach()
    try:
        m = _MAPPED.get(key)
        if m is None:
            m = mmap.mmap(fd, size)
            _MAPPED[key] = m
    finally:
        os.close(fd)
    release = _Release(m, slot, len(layout))
    batch = {}
    base = _HEADER + slot * slot_bytes
    for name, dtype, shape, off, _ in layout:
        a = np.frombuffer(m, dtype, count=count * int(np.prod(shape[1:])),
                          offset=base + off).reshape((count,) + tuple(shape[1:]))
        weakref.finalize(a, release)
        batch[name] = torch.from_numpy(a)
    if info is not None:
        batch["info"] = info
    return batch


# ---- the dataset -----------------------------------------------------------------------------

class WindowDataset(IterableDataset):
    """Random windows of N5/Zarr volumes (see volbatch.WindowSampler for every option).

    batch_size: windows per item (a dict of [B, ...] tensors); None: single windows.
    length: windows per epoch over all workers (None: an endless stream). Epoch e covers the
    global windows [e * length, (e + 1) * length); call set_epoch(e) before iterating (like a
    DistributedSampler), otherwise every epoch repeats epoch 0's windows. With persistent
    workers, set_epoch does not reach the workers.
    shared_slots: batches each worker can have in flight in its shared-memory arena (the
    DataLoader's prefetch_factor per worker, plus what the training loop holds).
    cache_bytes: each worker's decoded-chunk cache; None (default): its share of
    volbatch.default_cache_bytes(num_workers), a quarter of the available memory in all.
    """

    def __init__(self, sources, window, *, seed=0, length=None, batch_size=None,
                 shared_slots=4, **options):
        sources = [s if isinstance(s, dict) else {"path": s} for s in sources]
        self._window = tuple(int(w) for w in window)
        self._seed = int(seed)
        self._options = dict(options)
        if length is not None and length < 0:
            raise ValueError("length must be >= 0")
        if batch_size is not None and batch_size < 1:
            raise ValueError("batch_size must be >= 1 or None")
        self.length = length
        self.batch_size = batch_size
        self.shared_slots = int(shared_slots)
        self.epoch = 0
        # Checks every option here, in the main process, and builds the class index once.
        # (Its threads start only on next(), which it never calls: nothing runs at a fork.)
        probe = _volbatch.WindowSampler(sources, self._window, seed=self._seed, **self._options)
        self._class_index = probe.class_index
        stored = probe.stored_dtypes
        self._sources = [dict(s) for s in sources]
        for s, name in zip(self._sources, probe.names):
            if s.get("dtype") is None and str(stored[name]) in _TORCH_WIDER:
                s["dtype"] = _TORCH_WIDER[str(stored[name])]
                s["name"] = name
        self.names = probe.names
        del probe

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        """Items per epoch (batches when batch_size is set)."""
        if self.length is None:
            raise TypeError("an endless WindowDataset (length=None) has no len()")
        if self.batch_size is None:
            return self.length
        return (self.length + self.batch_size - 1) // self.batch_size

    def sampler(self, worker_id=0, num_workers=1):
        """The WindowSampler that worker `worker_id` of `num_workers` iterates this epoch."""
        opts = dict(self._options)
        if opts.get("cache_bytes") is None:
            # The workers share the machine: each takes its part of the default.
            opts["cache_bytes"] = _volbatch.default_cache_bytes(num_workers)
        if self._class_index is not None:
            opts["class_index"] = self._class_index
        s = _volbatch.WindowSampler(self._sources, self._window, seed=self._seed, **opts)
        start = self.epoch * self.length if self.length is not None else 0
        s.set_stream(worker_id, num_workers, start, self.batch_size or 1)
        return s

    def __iter__(self):
        info = get_worker_info()
        worker_id, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        s = self.sampler(worker_id, num_workers)
        if self.batch_size is None:
            items = (range(worker_id, self.length, num_workers) if self.length is not None
                     else iter(int, 1))
            for _ in items:
                yield _to_torch(s.next())
            return
        yield from self._batches(s, worker_id, num_workers, in_worker=info is not None)

    def _batches(self, s, worker_id, num_workers, in_worker):
        b = self.batch_size
        if self.length is None:
            sizes = iter(lambda: b, None)
        else:
            nb = (self.length + b - 1) // b
            sizes = (min(b, self.length - j * b) for j in range(worker_id, nb, num_workers))
        shapes, dtypes = s.shapes, s.dtypes
        layout = [(n, dtypes[n], (b,) + tuple(shapes[n])) for n in s.names]
        arena = None
        if in_worker and hasattr(os, "memfd_create") and self.shared_slots > 0:
            arena = _Arena(layout, self.shared_slots)
        for count in sizes:
            slot = arena.acquire() if arena is not None else None
            if slot is not None:
                infos = s.next_into(arena.views(slot, count))
                yield _SharedBatch(arena, slot, count,
                                   _batch_info(infos) if infos is not None else None)
                continue
            out = {n: torch.empty((count,) + tuple(shapes[n]),
                                  dtype=torch.from_numpy(np.empty(0, dtypes[n])).dtype)
                   for n in s.names}
            infos = s.next_into({n: t.numpy() for n, t in out.items()})
            if infos is not None:
                out["info"] = _batch_info(infos)
            yield out
