"""Build hook: compiles the server's C hot path (``server/splice/server/_native.c``).

A wheel gets the compiled module (and a platform tag); an editable install compiles it in
place, next to the source. It needs a C compiler and the Python headers. Without them the
build fails and says so; ``SPLICE_NATIVE=0`` at build time installs the pure-Python path
instead (slower; the server logs which path runs).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("server/splice/server/_native.c")
MODULE = "splice/server/_native"
FLAGS = ["-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Wno-unused-parameter",
         "-Wno-missing-field-initializers", "-Wno-cast-function-type"]


def compile_native(root: Path, out_dir: Path) -> Path:
    """Compile ``SOURCE`` into ``out_dir``; the path of the extension module."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = out_dir / f"_native{suffix}"
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    if shutil.which(compiler[0]) is None:
        raise RuntimeError(
            f"splice: no C compiler ({compiler[0]}) to build {SOURCE}; install one (Debian: "
            "apt-get install gcc libc6-dev python3-dev), or set SPLICE_NATIVE=0 to install "
            "the slower pure-Python path")
    include = sysconfig.get_paths()["include"]
    command = [*compiler, *FLAGS, f"-I{include}", str(root / SOURCE), "-o", str(target)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"splice: compiling {SOURCE} failed ({' '.join(command)}):\n"
                           f"{done.stderr}\nSet SPLICE_NATIVE=0 to install the pure-Python "
                           "path instead")
    return target


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg, unused-ignore]
    """Compiles the C module for wheel and editable builds."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if os.environ.get("SPLICE_NATIVE", "1").strip() == "0":
            return
        root = Path(self.root)
        if version == "editable":  # the source tree is on sys.path
            compile_native(root, root / SOURCE.parent)
            return
        built = compile_native(root, Path(tempfile.mkdtemp(prefix="splice-native-")))
        build_data["force_include"][str(built)] = f"{MODULE}{built.name[len('_native'):]}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
