"""Build hook: compiles the server's C hot path (``server/splice/server/_native.c``).

A wheel gets the compiled module (and a platform tag); an editable install compiles it in
place, next to the source. It needs a C compiler and the Python headers.

``SPLICE_NATIVE`` at build time: ``1`` requires the module (the build fails, saying why, if
it cannot be compiled; ``scripts/setup.sh`` and the images set it), ``0`` skips it, and unset
tries and, failing that, warns and builds the pure-Python package, which runs the same
requests at more CPU per request.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("server/splice/server/_native.c")
MODULE = "splice/server/_native"
FLAGS = ["-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Wno-unused-parameter",
         "-Wno-missing-field-initializers", "-Wno-cast-function-type"]


class NativeBuildError(RuntimeError):
    """The C module could not be compiled here."""


def find_compiler() -> list[str]:
    """The C compiler command: $CC, Python's own, then cc or gcc, whichever exists."""
    for candidate in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc", "gcc"):
        command = shlex.split(candidate or "")
        if command and shutil.which(command[0]):
            return command
    raise NativeBuildError(f"no C compiler to build {SOURCE} (Debian: apt-get install gcc "
                           "libc6-dev python3-dev)")


def compile_native(root: Path, out_dir: Path) -> Path:
    """Compile ``SOURCE`` into ``out_dir``; the path of the extension module."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = out_dir / f"_native{suffix}"
    flags = [*FLAGS, "-undefined", "dynamic_lookup"] if sys.platform == "darwin" else FLAGS
    include = sysconfig.get_paths()["include"]
    command = [*find_compiler(), *flags, f"-I{include}", str(root / SOURCE), "-o", str(target)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NativeBuildError(f"compiling {SOURCE} failed ({' '.join(command)}):\n"
                               f"{done.stderr}")
    return target


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg, unused-ignore]
    """Compiles the C module for wheel and editable builds."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        wanted = os.environ.get("SPLICE_NATIVE", "").strip()
        if wanted == "0":
            return
        root = Path(self.root)
        self._scratch: Path | None = None
        try:
            if version == "editable":  # the source tree is on sys.path
                for old in (root / SOURCE.parent).glob("_native*.so"):
                    old.unlink()  # never leave an older build behind a failed one
                compile_native(root, root / SOURCE.parent)
                return
            self._scratch = Path(tempfile.mkdtemp(prefix="splice-native-"))
            built = compile_native(root, self._scratch)
        except NativeBuildError as exc:
            if wanted == "1":
                raise NativeBuildError(f"splice: {exc}\nSPLICE_NATIVE=1 requires the C "
                                       "module; unset it to build the pure-Python package "
                                       "instead") from None
            self.app.display_warning(f"splice: {exc}\nBuilding the pure-Python package: "
                                     "the server runs the same, at more CPU per request.")
            return
        build_data["force_include"][str(built)] = f"{MODULE}{built.name[len('_native'):]}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
