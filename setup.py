"""`pip install .`: the volbatch Python package, built with the project's own CMake.

The extension `volbatch._volbatch` links the C++ library's shared layers, so build_ext runs
cmake + ninja (no second build description to keep in step) and puts into the package the
extension, every libvolbatch_*.so (the torch operator plugin libvolbatch_op_torch.so included:
the ops layer finds plugins beside libvolbatch_ops.so) and the `volbatch` program (bin/, for
the executors that start workers), all linked with RPATH $ORIGIN so they load from
site-packages. The C++ dependencies are the project's Debian packages (scripts/setup.sh).

On Debian, offline, into a virtual environment that sees Debian's numpy, torch and dask:

    /usr/bin/python3 -m venv --system-site-packages ENV
    ENV/bin/pip install --no-build-isolation --no-index /path/to/volbatch

The CMake build directory is build-pip/ beside this file (VOLBATCH_CMAKE_BUILD_DIR overrides
it), so a second install rebuilds only what changed (the first compiles the whole library:
about 12 minutes on 2 cores); ccache, when installed, is used with CCACHE_NOHASHDIR so another
build directory of the same source tree reuses those objects. The installed files are stripped
of debug information unless VOLBATCH_KEEP_DEBUG=1.
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
# setuptools' own build/ would land in the CMake build tree the developers use (build/).
WORK = os.path.join(HERE, "build-pip")


class CMakeBuild(build_ext):
    """Builds the extension, the volbatch program and the plugin with CMake, then copies them and
    the libraries they need into the package."""

    def build_extension(self, ext):
        build_dir = os.path.abspath(os.environ.get("VOLBATCH_CMAKE_BUILD_DIR") or
                                    os.path.join(WORK, "cmake"))
        env = dict(os.environ)
        env.setdefault("CCACHE_NOHASHDIR", "1")
        configure = [
            "cmake", "-S", HERE, "-B", build_dir, "-G", "Ninja",
            f"-DPYTHON_EXECUTABLE={sys.executable}",
            # Link with the installed layout's search path from the start: the libraries sit
            # beside the extension, the program one level down in bin/.
            "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON",
            "-DCMAKE_INSTALL_RPATH=$ORIGIN:$ORIGIN/..",
        ]
        if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
            configure.append("-DCMAKE_BUILD_TYPE=RelWithDebInfo")
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 2)
        self._run(configure, env)
        self._run(["cmake", "--build", build_dir, "--target", "_volbatch", "volbatch",
                   "volbatch_model", "--", "-j", jobs], env)

        target = os.path.abspath(self.get_ext_fullpath(ext.name))
        package_dir = os.path.dirname(target)
        os.makedirs(os.path.join(package_dir, "bin"), exist_ok=True)
        built = glob.glob(os.path.join(build_dir, "python", "volbatch", "_volbatch*.so"))
        if len(built) != 1:
            raise RuntimeError(f"expected one _volbatch*.so in {build_dir}/python/volbatch, "
                               f"found {built}")
        shutil.copyfile(built[0], target)
        libraries = glob.glob(os.path.join(build_dir, "libvolbatch_*.so"))
        if not any(os.path.basename(p) == "libvolbatch_op_torch.so" for p in libraries):
            raise RuntimeError(f"{build_dir}: the torch operator plugin was not built")
        for lib in libraries:
            shutil.copyfile(lib, os.path.join(package_dir, os.path.basename(lib)))
        program = os.path.join(package_dir, "bin", "volbatch")
        shutil.copyfile(os.path.join(build_dir, "volbatch"), program)
        strip = shutil.which("strip") if not os.environ.get("VOLBATCH_KEEP_DEBUG") else None
        for path in [target, program] + [os.path.join(package_dir, os.path.basename(p))
                                         for p in libraries]:
            os.chmod(path, 0o755)
            if strip:  # debug information is 7/8 of the bytes (VOLBATCH_KEEP_DEBUG=1 keeps it)
                self._run([strip, "--strip-debug", path], env)

    @staticmethod
    def _run(command, env):
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True, env=env)


os.makedirs(WORK, exist_ok=True)
setup(
    ext_modules=[Extension("volbatch._volbatch", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": os.path.join(WORK, "setuptools")},
             "egg_info": {"egg_base": WORK}},
)
