"""Exception types users can catch. Every message names the variable or input, the
expected and actual values, and the user's source line where the op was created."""


class TensorcError(Exception):
    """Base class of all tensorc errors."""


class ShapeError(TensorcError, ValueError):
    """Shapes do not fit: at graph construction or when a compiled function runs."""


class DTypeError(TensorcError, TypeError):
    """A dtype is not allowed here or cannot be converted safely."""


class CompileError(TensorcError, RuntimeError):
    """The system C compiler (or nvcc) failed; the message shows the command and the
    first lines of its error output."""


class CompilerNotFoundError(CompileError):
    """No usable C compiler: set TENSORC_FLAGS=cc=/path/to/cc or the CC variable."""


class LoweringError(TensorcError):
    """A pass met an op it cannot handle (declared legality)."""


class DisconnectedInputError(TensorcError, ValueError):
    """`grad` was asked for a variable the cost does not depend on."""


class ConfigError(TensorcError, ValueError):
    """Unknown or invalid configuration flag or option."""


class DeviceUnavailableError(TensorcError, RuntimeError):
    """The requested device cannot run here: the message names the missing piece
    (pycuda, libcuda, a GPU) and how to get it; `missing` says which one. tensorc
    never falls back to the CPU silently."""

    def __init__(self, message: str, missing: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing


class GpuKernelError(TensorcError, RuntimeError):
    """A GPU kernel could not run or failed: an invalid launch configuration, a
    driver error, or (under cuda-emu) a __syncthreads() not reached by every
    thread, a warp operation that can never complete, a __trap()."""


class ScanError(TensorcError, ValueError):
    """A scan that cannot be built as asked (unsupported taps, mismatched state
    types, ...); the message names the argument and the user's line."""
