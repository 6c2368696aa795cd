"""A CPython extension that calls compiled entries without ctypes.

ctypes costs several microseconds per call (argument conversion, a thread state
switch); this extension gets a compiled function's call under one. It is one
generic, data-driven module (`_tensorc_pyentry`), not one per function: a
`Kernel` is built from an entry's address and its input and output types, so
every function of every graph shares one build, compiled once per cache (Python,
numpy and compiler versions are in the key) and loaded with importlib's
`ExtensionFileLoader`.

- `Kernel(entry, free, owner, shape_error, inputs, outputs, release_gil_bytes)`:
  `inputs` are `(type_num, dims)` pairs with -1 for a dynamic dim, `outputs` are
  `(type_num, rank)` pairs. `kernel(arrays)` checks every array (numpy dtype,
  rank, static dims, C-contiguous, aligned, native byte order), makes the one
  foreign call and returns the outputs as numpy arrays over the malloc'ed
  buffers (a capsule frees them with the library's `tensorc_free`). An output
  whose pointer is an input's buffer (an in-place update) comes back as that
  input array (same shape and dtype) or a view of it, and is never freed.
- `FunctionCall(kernel, n_explicit, shared, targets, n_results, single, trust,
  slow)`: the whole `Function.__call__` for the common case (positional arrays
  that already conform): reads the shared variables' `_value`, runs the kernel,
  assigns `_value` of each update target after every output exists, and returns
  one output or a list. Anything else (keywords, defaults, Python scalars, lists,
  other dtypes, strided arrays, a wrong static dim) goes to `slow(*args,
  **kwargs)`, which converts or raises the user-facing error. With `trust` the
  explicit inputs are only checked to be ndarrays of the right rank (no dtype,
  layout or static-dim checks).

`load()` returns the module, or None when Python's or numpy's C headers are
missing (`TENSORC_PYENTRY=0` forces that, for tests); the caller then uses ctypes.
The first compile on a machine does not wait for the extension's C compile, nor
share the CPU with it: the Function it makes asks with `load(wait=False)`, which
starts the build in a background thread (`prefetch`) and returns None until it is
done; `when_loaded` switches the Function from ctypes to the extension then.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

from tensorc.errors import CompileError

MODULE_NAME = "_tensorc_pyentry"
STATUS_ASSERT = 1
"""ABI (notes/abi.md): a failed `cf.assert`; the message is in `err`."""
STATUS_OUT_OF_MEMORY = 2
"""ABI: a failed allocation."""
ERROR_BUFFER_BYTES = 1024
RELEASE_GIL_BYTES = 1 << 16
"""Calls whose inputs total fewer bytes keep the GIL: releasing it costs more
than such a kernel runs."""
FLAGS: tuple[str, ...] = ("-O1", "-fPIC", "-shared", "-std=c11")

SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

typedef int (*tc_entry)(void *const *, const int64_t *, void **, int64_t *, char *,
                        int64_t);
typedef void (*tc_free)(void *);

enum { TC_STATUS_ASSERT = 1, TC_STATUS_OUT_OF_MEMORY = 2, TC_ERROR_BYTES = 1024 };

typedef struct {
    int type_num;
    int rank;
    Py_ssize_t offset; /* where the tensor's dims start in the shapes array */
} TensorSpec;

typedef struct {
    PyObject_HEAD
    tc_entry entry;
    tc_free free;
    PyObject *owner;       /* keeps the shared library loaded */
    PyObject *shape_error; /* raised for a failed run-time check */
    Py_ssize_t n_in, n_out, in_dims, out_dims;
    TensorSpec *in, *out;
    int64_t *static_dims; /* in_dims entries, -1 for a dynamic dim */
    PyArray_Descr **out_descr;
    Py_ssize_t release_gil_bytes;
} Kernel;

static PyTypeObject KernelType;

/* region kernel construction */

static int parse_specs(PyObject *seq, TensorSpec **specs, Py_ssize_t *count,
                       Py_ssize_t *dims, int64_t **static_dims, int with_dims) {
    PyObject *fast = PySequence_Fast(seq, "tensor specs must be a sequence");
    if (!fast) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast), total = 0;
    *specs = PyMem_Calloc((size_t)n + 1, sizeof(TensorSpec));
    if (!*specs) { Py_DECREF(fast); PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i), *shape;
        int type_num, rank = 0;
        if (with_dims) {
            if (!PyArg_ParseTuple(item, "iO", &type_num, &shape)) goto fail;
            rank = (int)PySequence_Size(shape);
            if (rank < 0) goto fail;
        } else if (!PyArg_ParseTuple(item, "ii", &type_num, &rank)) {
            goto fail;
        }
        if (rank > NPY_MAXDIMS) {
            PyErr_Format(PyExc_ValueError, "rank %d exceeds numpy's limit", rank);
            goto fail;
        }
        (*specs)[i] = (TensorSpec){type_num, rank, total};
        total += rank;
    }
    *count = n;
    *dims = total;
    if (with_dims) {
        *static_dims = PyMem_Calloc((size_t)total + 1, sizeof(int64_t));
        if (!*static_dims) { PyErr_NoMemory(); goto fail; }
        for (Py_ssize_t i = 0; i < n; ++i) {
            PyObject *shape = PySequence_GetItem(PySequence_Fast_GET_ITEM(fast, i), 1);
            for (int r = 0; shape && r < (*specs)[i].rank; ++r) {
                PyObject *dim = PySequence_GetItem(shape, r);
                (*static_dims)[(*specs)[i].offset + r] = dim ? PyLong_AsLongLong(dim) : -1;
                Py_XDECREF(dim);
            }
            Py_XDECREF(shape);
            if (PyErr_Occurred()) goto fail;
        }
    }
    Py_DECREF(fast);
    return 0;
fail:
    Py_DECREF(fast);
    return -1;
}

static int kernel_init(Kernel *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"entry", "free", "owner", "shape_error", "inputs",
                            "outputs", "release_gil_bytes", NULL};
    unsigned long long entry, free_fn;
    PyObject *owner, *shape_error, *inputs, *outputs;
    Py_ssize_t release = 0;
    if (self->entry) {
        PyErr_SetString(PyExc_TypeError, "Kernel is already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KKOOOO|n", names, &entry, &free_fn,
                                     &owner, &shape_error, &inputs, &outputs, &release))
        return -1;
    int64_t *unused = NULL;
    if (parse_specs(inputs, &self->in, &self->n_in, &self->in_dims, &self->static_dims, 1)
        || parse_specs(outputs, &self->out, &self->n_out, &self->out_dims, &unused, 0))
        return -1;
    self->out_descr = PyMem_Calloc((size_t)self->n_out + 1, sizeof(PyArray_Descr *));
    if (!self->out_descr) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t j = 0; j < self->n_out; ++j) {
        self->out_descr[j] = PyArray_DescrFromType(self->out[j].type_num);
        if (!self->out_descr[j]) return -1;
    }
    self->entry = (tc_entry)(uintptr_t)entry;
    self->free = (tc_free)(uintptr_t)free_fn;
    self->owner = Py_NewRef(owner);
    self->shape_error = Py_NewRef(shape_error);
    self->release_gil_bytes = release;
    return 0;
}

static void kernel_dealloc(Kernel *self) {
    for (Py_ssize_t j = 0; self->out_descr && j < self->n_out; ++j)
        Py_XDECREF(self->out_descr[j]);
    PyMem_Free(self->out_descr);
    PyMem_Free(self->in);
    PyMem_Free(self->out);
    PyMem_Free(self->static_dims);
    Py_XDECREF(self->owner);
    Py_XDECREF(self->shape_error);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* endregion */
/* region calls */

/* Whether `object` can be passed as input `i` as it is. */
static inline int conforms(const Kernel *k, Py_ssize_t i, PyObject *object) {
    if (!PyArray_Check(object)) return 0;
    PyArrayObject *array = (PyArrayObject *)object;
    PyArray_Descr *descr = PyArray_DESCR(array);
    const TensorSpec *spec = &k->in[i];
    if (descr->type_num != spec->type_num
        && !PyArray_EquivTypenums(descr->type_num, spec->type_num))
        return 0;
    if (!PyArray_ISNBO(descr->byteorder) || PyArray_NDIM(array) != spec->rank
        || !PyArray_ISCARRAY_RO(array))
        return 0;
    const npy_intp *dims = PyArray_DIMS(array);
    const int64_t *want = k->static_dims + spec->offset;
    for (int r = 0; r < spec->rank; ++r)
        if (want[r] >= 0 && dims[r] != want[r]) return 0;
    return 1;
}

/* What trust_input still checks: an array of the right rank (its dims are read). */
static inline int trusted(const Kernel *k, Py_ssize_t i, PyObject *object) {
    return PyArray_Check(object) && PyArray_NDIM((PyArrayObject *)object) == k->in[i].rank;
}

static void release_buffer(PyObject *capsule) {
    tc_free free_fn = (tc_free)(uintptr_t)PyCapsule_GetContext(capsule);
    free_fn(PyCapsule_GetPointer(capsule, NULL));
}

/* An output array over `data`: an input's own array (or a view of it) when the
   kernel wrote in place, else a new array owning the malloc'ed buffer. */
static PyObject *wrap_output(const Kernel *k, Py_ssize_t j, void *data,
                             const int64_t *shape, void *const *in_data,
                             PyObject *const *inputs) {
    const TensorSpec *spec = &k->out[j];
    npy_intp dims[NPY_MAXDIMS];
    for (int r = 0; r < spec->rank; ++r) dims[r] = (npy_intp)shape[r];
    PyObject *base = NULL;
    for (Py_ssize_t i = 0; i < k->n_in && !base; ++i) {
        if (in_data[i] != data) continue;
        PyArrayObject *input = (PyArrayObject *)inputs[i];
        if (PyArray_NDIM(input) == spec->rank
            && PyArray_DESCR(input)->type_num == spec->type_num
            && PyArray_CompareLists(PyArray_DIMS(input), dims, spec->rank))
            return Py_NewRef(inputs[i]);
        base = Py_NewRef(inputs[i]);
    }
    PyArray_Descr *descr = k->out_descr[j];
    Py_INCREF(descr);
    PyObject *array = PyArray_NewFromDescr(&PyArray_Type, descr, spec->rank, dims, NULL,
                                           data, NPY_ARRAY_CARRAY, NULL);
    if (!base) {
        if (!array) { k->free(data); return NULL; }
        base = PyCapsule_New(data, NULL, release_buffer);
        if (!base || PyCapsule_SetContext(base, (void *)(uintptr_t)k->free) < 0) {
            if (base) PyCapsule_SetDestructor(base, NULL);
            Py_XDECREF(base);
            Py_DECREF(array);
            k->free(data);
            return NULL;
        }
    } else if (!array) {
        Py_DECREF(base);
        return NULL;
    }
    if (PyArray_SetBaseObject((PyArrayObject *)array, base) < 0) {  /* steals base */
        Py_DECREF(array);
        return NULL;
    }
    return array;
}

static int kernel_failed(const Kernel *k, int status, const char *err) {
    PyObject *text = PyUnicode_DecodeUTF8(err, (Py_ssize_t)strlen(err), "replace");
    if (!text) return -1;
    if (status == TC_STATUS_ASSERT) {
        PyErr_SetObject(k->shape_error, text);
    } else if (status == TC_STATUS_OUT_OF_MEMORY) {
        PyErr_SetObject(PyExc_MemoryError, text);
    } else {
        PyErr_Format(PyExc_RuntimeError, "tensorc kernel returned unknown status %d: %U",
                     status, text);
    }
    Py_DECREF(text);
    return -1;
}

/* The foreign call on conforming `inputs`; stores n_out new references in
   `results`. Returns 0, or -1 with an exception set and nothing stored. */
static int kernel_run(const Kernel *k, PyObject *const *inputs, PyObject **results) {
    void *in_data[k->n_in + 1], *out_data[k->n_out + 1];
    int64_t in_shapes[k->in_dims + 1], out_shapes[k->out_dims + 1];
    char err[TC_ERROR_BYTES];
    Py_ssize_t bytes = 0;
    err[0] = 0;
    for (Py_ssize_t i = 0; i < k->n_in; ++i) {
        PyArrayObject *array = (PyArrayObject *)inputs[i];
        const npy_intp *dims = PyArray_DIMS(array);
        Py_ssize_t size = PyArray_ITEMSIZE(array);
        in_data[i] = PyArray_DATA(array);
        for (int r = 0; r < k->in[i].rank; ++r) {
            in_shapes[k->in[i].offset + r] = dims[r];
            size *= dims[r];
        }
        bytes += size;
    }
    int status;
    if (bytes >= k->release_gil_bytes) {
        Py_BEGIN_ALLOW_THREADS
        status = k->entry(in_data, in_shapes, out_data, out_shapes, err, TC_ERROR_BYTES);
        Py_END_ALLOW_THREADS
    } else {
        status = k->entry(in_data, in_shapes, out_data, out_shapes, err, TC_ERROR_BYTES);
    }
    if (status) return kernel_failed(k, status, err);
    for (Py_ssize_t j = 0; j < k->n_out; ++j) {
        results[j] = wrap_output(k, j, out_data[j], out_shapes + k->out[j].offset,
                                 in_data, inputs);
        if (!results[j]) {
            for (Py_ssize_t done = 0; done < j; ++done) Py_DECREF(results[done]);
            for (Py_ssize_t rest = j + 1; rest < k->n_out; ++rest) {
                int aliased = 0;
                for (Py_ssize_t i = 0; i < k->n_in; ++i) aliased |= in_data[i] == out_data[rest];
                if (!aliased) k->free(out_data[rest]);
            }
            return -1;
        }
    }
    return 0;
}

static PyObject *list_of(PyObject **items, Py_ssize_t n) {  /* steals the items */
    PyObject *list = PyList_New(n);
    if (!list) {
        for (Py_ssize_t j = 0; j < n; ++j) Py_DECREF(items[j]);
        return NULL;
    }
    for (Py_ssize_t j = 0; j < n; ++j) PyList_SET_ITEM(list, j, items[j]);
    return list;
}

static PyObject *kernel_call(Kernel *self, PyObject *args, PyObject *kwargs) {
    PyObject *arrays;
    if (!PyArg_ParseTuple(args, "O:Kernel", &arrays)) return NULL;
    PyObject *fast = PySequence_Fast(arrays, "Kernel takes a sequence of arrays");
    if (!fast) return NULL;
    if (PySequence_Fast_GET_SIZE(fast) != self->n_in) {
        PyErr_Format(PyExc_TypeError, "the kernel takes %zd inputs, got %zd", self->n_in,
                     PySequence_Fast_GET_SIZE(fast));
        Py_DECREF(fast);
        return NULL;
    }
    PyObject **inputs = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < self->n_in; ++i) {
        if (!conforms(self, i, inputs[i])) {
            PyErr_Format(PyExc_TypeError,
                         "kernel input %zd must be a C-contiguous, aligned array of "
                         "numpy type %d, rank %d and the static dims",
                         i, self->in[i].type_num, self->in[i].rank);
            Py_DECREF(fast);
            return NULL;
        }
    }
    PyObject *results[self->n_out + 1];
    int failed = kernel_run(self, inputs, results);
    Py_DECREF(fast);
    return failed ? NULL : list_of(results, self->n_out);
}

/* endregion */

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_tensorc_pyentry.Kernel",
    .tp_basicsize = sizeof(Kernel),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A compiled entry: kernel(arrays) -> list of output arrays.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)kernel_init,
    .tp_dealloc = (destructor)kernel_dealloc,
    .tp_call = (ternaryfunc)kernel_call,
};

/* region function calls */

typedef struct {
    PyObject_HEAD
    Kernel *kernel;
    Py_ssize_t n_explicit, n_results;
    PyObject *shared;  /* tuple: shared variables, inputs after the explicit ones */
    PyObject *targets; /* tuple: the shared variable each extra output updates */
    PyObject *slow;    /* slow(*args, **kwargs): everything else */
    int single, trust;
} FunctionCall;

static PyObject *value_name; /* "_value" */

static int function_call_init(FunctionCall *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"kernel", "n_explicit", "shared", "targets", "n_results",
                            "single", "trust", "slow", NULL};
    Kernel *kernel;
    PyObject *shared, *targets, *slow;
    Py_ssize_t n_explicit, n_results;
    int single, trust;
    if (self->kernel) {
        PyErr_SetString(PyExc_TypeError, "FunctionCall is already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!nO!O!nppO", names, &KernelType,
                                     &kernel, &n_explicit, &PyTuple_Type, &shared,
                                     &PyTuple_Type, &targets, &n_results, &single,
                                     &trust, &slow))
        return -1;
    if (n_explicit < 0 || n_explicit + PyTuple_GET_SIZE(shared) != kernel->n_in
        || n_results < 0 || n_results + PyTuple_GET_SIZE(targets) != kernel->n_out
        || (single && n_results != 1)) {
        PyErr_SetString(PyExc_ValueError, "FunctionCall does not fit the kernel");
        return -1;
    }
    self->kernel = (Kernel *)Py_NewRef(kernel);
    self->shared = Py_NewRef(shared);
    self->targets = Py_NewRef(targets);
    self->slow = Py_NewRef(slow);
    self->n_explicit = n_explicit;
    self->n_results = n_results;
    self->single = single;
    self->trust = trust;
    return 0;
}

/* `slow` is usually a bound method of the Function that holds this object: the
   cycle is broken by the garbage collector. */
static int function_call_traverse(FunctionCall *self, visitproc visit, void *arg) {
    Py_VISIT(self->kernel);
    Py_VISIT(self->shared);
    Py_VISIT(self->targets);
    Py_VISIT(self->slow);
    return 0;
}

static int function_call_clear(FunctionCall *self) {
    Py_CLEAR(self->kernel);
    Py_CLEAR(self->shared);
    Py_CLEAR(self->targets);
    Py_CLEAR(self->slow);
    return 0;
}

static void function_call_dealloc(FunctionCall *self) {
    PyObject_GC_UnTrack(self);
    function_call_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Runs the kernel on `inputs` and applies the updates; NULL on error. */
static PyObject *function_finish(FunctionCall *self, PyObject *const *inputs) {
    const Kernel *k = self->kernel;
    PyObject *results[k->n_out + 1];
    if (kernel_run(k, inputs, results) < 0) return NULL;
    /* every output exists before any shared variable changes */
    for (Py_ssize_t u = 0; u < PyTuple_GET_SIZE(self->targets); ++u) {
        if (PyObject_SetAttr(PyTuple_GET_ITEM(self->targets, u), value_name,
                             results[self->n_results + u]) < 0) {
            for (Py_ssize_t j = 0; j < k->n_out; ++j) Py_DECREF(results[j]);
            return NULL;
        }
    }
    for (Py_ssize_t j = self->n_results; j < k->n_out; ++j) Py_DECREF(results[j]);
    if (self->single) return results[0];
    return list_of(results, self->n_results);
}

static PyObject *function_call(FunctionCall *self, PyObject *args, PyObject *kwargs) {
    const Kernel *k = self->kernel;
    if (!k) {
        PyErr_SetString(PyExc_RuntimeError, "the FunctionCall was cleared");
        return NULL;
    }
    Py_ssize_t n_shared = PyTuple_GET_SIZE(self->shared);
    if ((kwargs && PyDict_GET_SIZE(kwargs)) || PyTuple_GET_SIZE(args) != self->n_explicit)
        return PyObject_Call(self->slow, args, kwargs);
    PyObject *inputs[k->n_in + 1];
    for (Py_ssize_t i = 0; i < self->n_explicit; ++i) {
        inputs[i] = PyTuple_GET_ITEM(args, i);
        if (self->trust ? !trusted(k, i, inputs[i]) : !conforms(k, i, inputs[i]))
            return PyObject_Call(self->slow, args, kwargs);
    }
    Py_ssize_t read = 0;
    for (; read < n_shared; ++read) {
        Py_ssize_t i = self->n_explicit + read;
        inputs[i] = PyObject_GetAttr(PyTuple_GET_ITEM(self->shared, read), value_name);
        if (!inputs[i] || !conforms(k, i, inputs[i])) break;
    }
    PyObject *result = NULL;
    if (read == n_shared) {
        result = function_finish(self, inputs);
    } else if (inputs[self->n_explicit + read]) {
        Py_DECREF(inputs[self->n_explicit + read]);
        result = PyObject_Call(self->slow, args, kwargs);
    }
    for (Py_ssize_t s = 0; s < read; ++s) Py_DECREF(inputs[self->n_explicit + s]);
    return result;
}

/* endregion */

static PyTypeObject FunctionCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_tensorc_pyentry.FunctionCall",
    .tp_basicsize = sizeof(FunctionCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)function_call_traverse,
    .tp_clear = (inquiry)function_call_clear,
    .tp_doc = "Function.__call__ on conforming positional arrays; else slow(...).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)function_call_init,
    .tp_dealloc = (destructor)function_call_dealloc,
    .tp_call = (ternaryfunc)function_call,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tensorc_pyentry",
    "Calls of tensorc entries from Python (see tensorc/runtime/pyentry.py).", -1, NULL,
};

PyMODINIT_FUNC PyInit__tensorc_pyentry(void) {
    import_array();
    value_name = PyUnicode_InternFromString("_value");
    if (!value_name || PyType_Ready(&KernelType) < 0
        || PyType_Ready(&FunctionCallType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Kernel", (PyObject *)&KernelType) < 0
        || PyModule_AddObjectRef(m, "FunctionCall", (PyObject *)&FunctionCallType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
"""

_lock = threading.Lock()
"""Held while the extension is built or loaded."""
_module: ModuleType | None = None
_failed = False
_builder: threading.Thread | None = None
_waiting: list[Callable[[ModuleType], None]] = []
_waiting_lock = threading.Lock()


def headers() -> tuple[Path, Path] | None:
    """The include directories of Python.h and numpy's arrayobject.h, if both exist."""
    import sysconfig

    python = Path(sysconfig.get_paths()["include"])
    numpy_dir = Path(np.get_include())
    if not (python / "Python.h").is_file():
        return None
    if not (numpy_dir / "numpy" / "arrayobject.h").is_file():
        return None
    return python, numpy_dir


def enabled() -> bool:
    """False when `TENSORC_PYENTRY=0` asks for the ctypes path."""
    return os.environ.get("TENSORC_PYENTRY", "1") != "0"


def load(wait: bool = True) -> ModuleType | None:
    """The extension module (built into the cache the first time), or None when it
    cannot be built here; thread-safe, once per process. With `wait=False` this
    never waits for a C compile: while the extension is not built yet it returns
    None and builds it in the background (`when_loaded` tells when it is ready)."""
    global _module, _failed
    if not enabled():
        return None
    if _module is not None or _failed:
        return _module
    if not wait and (_building() or not _artifact()[2].exists()):
        prefetch()
        return None
    with _lock:
        if _module is None and not _failed:
            try:
                _module = _build_and_import()
            finally:  # also when the warning below is an error (-W error)
                _failed = _module is None
    _notify()
    return _module


def prefetch() -> None:
    """Start building (or loading) the extension in a background thread."""
    global _builder
    with _waiting_lock:
        if _module is not None or _failed or _building() or not enabled():
            return
        _builder = threading.Thread(target=load, name="tensorc-pyentry-build")
        _builder.start()


def when_loaded(callback: Callable[[ModuleType], None]) -> None:
    """Call `callback(module)` once the extension is loaded: now if it is, else
    from the thread that loads it; never if it cannot be built or is disabled."""
    if not enabled():
        return
    with _waiting_lock:
        if _module is None and not _failed:
            _waiting.append(callback)
            return
    if _module is not None:
        callback(_module)


def wait(timeout: float | None = None) -> None:
    """Wait for a background build (if one runs) to finish."""
    builder = _builder
    if builder is not None:
        builder.join(timeout)


def _building() -> bool:
    return _builder is not None and _builder.is_alive()


def _notify() -> None:
    with _waiting_lock:
        callbacks = list(_waiting)
        _waiting.clear()
    if _module is not None:
        for callback in callbacks:
            callback(_module)


def _artifact() -> tuple[str, str, Path]:
    """(cache key, file suffix, path) of the extension for this Python, numpy
    and C compiler (their versions stand for their headers)."""
    from tensorc.runtime import cache, cpu

    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    key = cache.cache_key(
        SOURCE,
        sys.version,
        suffix,
        np.__version__,
        cpu.compiler_identity(cpu.find_c_compiler()),
        *FLAGS,
    )
    return key, suffix, cache.cache_dir() / "ext" / f"{key}{suffix}"


def _build_and_import() -> ModuleType | None:
    """Build (if needed) and import the extension; None (with a RuntimeWarning if
    the build failed) when it cannot be."""
    from tensorc.runtime import cache, cpu

    key, suffix, path = _artifact()
    include = None if path.exists() else headers()
    if include is None and not path.exists():
        return None
    compiler = cpu.find_c_compiler()

    def compile_into(library: Path) -> None:
        assert include is not None
        _compile(compiler, include, library)

    try:
        entry = cache.get_or_build(key, suffix, compile_into, kind="ext")
    except CompileError as error:
        import warnings

        warnings.warn(
            f"tensorc falls back to ctypes calls (slower): {error}",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    loader = importlib.machinery.ExtensionFileLoader(MODULE_NAME, str(entry.path))
    spec = importlib.util.spec_from_file_location(
        MODULE_NAME, entry.path, loader=loader
    )
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _compile(
    compiler: tuple[str, ...], include: tuple[Path, Path], library: Path
) -> None:
    from tensorc.runtime import cpu

    source = library.parent / "pyentry.c"
    source.write_text(SOURCE)
    command = [
        *compiler,
        *FLAGS,
        *(f"-I{directory}" for directory in include),
        "-o",
        str(library),
        str(source),
    ]
    failure = cpu.run_at_once([command])
    if failure is not None:
        raise CompileError(cpu.compile_failure(failure, source))


@functools.cache
def type_number(dtype: str) -> int:
    """numpy's C type number of a dtype name."""
    return np.dtype(dtype).num
