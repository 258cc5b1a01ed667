"""sys.stdout / sys.stderr replacements that hand text to the kernel, which coalesces it."""

import io
import sys

from pysheets_kernel import _native


class KernelStream(io.TextIOBase):
    def __init__(self, name):
        super().__init__()
        self.name = name

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    def isatty(self):
        return False

    def readable(self):
        return False

    def writable(self):
        return True

    def fileno(self):
        raise io.UnsupportedOperation("fileno: kernel streams have no file descriptor")

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:
            try:
                _native.write_stream(self.name, text)
            except UnicodeEncodeError:
                # A lone surrogate (`print("\ud800")`): shown replaced, as `errors` says.
                text_out = text.encode("utf-8", "replace").decode("utf-8")
                _native.write_stream(self.name, text_out)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        _native.flush_streams()


def after_fork_in_child():
    """A forked child (os.fork, multiprocessing's workers) has no kernel threads to send its
    output: it writes to fd 1 and 2 instead, which are the kernel's capture pipes, so the parent
    shows it in the running cell."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        if isinstance(getattr(sys, name), KernelStream):
            raw = io.FileIO(fd, "w", closefd=False)
            setattr(sys, name, io.TextIOWrapper(raw, "utf-8", "replace", write_through=True))


def kernel_input(prompt=""):
    """`input()` asks the frontend over the stdin channel."""
    _native.flush_streams()
    return _native.request_input(str(prompt), False)


def kernel_getpass(prompt="Password: ", stream=None):
    _native.flush_streams()
    return _native.request_input(str(prompt), True)
