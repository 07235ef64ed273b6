"""Builds kvpress_cpp's extension with CMake (target kvpress_python) for the interpreter running pip.

    /usr/bin/python3 -m pip install --no-build-isolation --no-index .

Set KVPRESS_CPP_CMAKE_BUILD_DIR to an existing CMake build folder to reuse its built module instead of
compiling again (the tests do); CMAKE_BUILD_PARALLEL_LEVEL sets the compile jobs (default 2).
"""
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
(ROOT / "build-pip").mkdir(exist_ok=True)  # setuptools' scratch (options below)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.environ.get("KVPRESS_CPP_CMAKE_BUILD_DIR")
        if not build_dir:
            build_dir = str(Path(self.build_temp).resolve() / "cmake")
            subprocess.run(["cmake", "-S", str(ROOT), "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                            "-DKVPRESS_TESTS=OFF", "-DKVPRESS_BENCH=OFF", f"-DPython_EXECUTABLE={sys.executable}"],
                           check=True)
            jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
            subprocess.run(["cmake", "--build", build_dir, "--target", "kvpress_python", "-j", jobs], check=True)
        built = glob.glob(os.path.join(build_dir, "python", "kvpress_cpp", "_core*.so"))
        if len(built) != 1:
            raise RuntimeError(f"expected one built kvpress_cpp/_core*.so in {build_dir}/python, found {built}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    packages=["kvpress_cpp"],
    package_dir={"": "python"},
    ext_modules=[CMakeExtension("kvpress_cpp._core")],
    cmdclass={"build_ext": CMakeBuild},
    # Keep setuptools' scratch out of the source tree and out of CMake's build/.
    options={"build": {"build_base": "build-pip"}, "egg_info": {"egg_base": "build-pip"}},
)
