"""Packaging glue: build the Go core into the package and tag the wheel.

The project metadata lives in pyproject.toml. This file only adds what
setuptools cannot express declaratively:

* ``build_py`` first compiles the Go core (``build_native.build``) into
  ``python/wick/_lib/``, from where package-data copies it into the wheel;
* the distribution says it has native code, so the wheel is platform-tagged;
* the wheel tag is ``py3-none-<platform>``: the library is loaded with cffi in
  ABI mode, so one wheel serves every CPython 3 version. On Linux the platform
  is the manylinux tag the built library's glibc symbol versions allow
  (``build_native.wheel_platform_tag``);
* ``sdist`` adds every Go file that ``go list`` reports (``build_native.go_sources``),
  so that no package or assembly file can be left out of the source distribution
  (MANIFEST.in lists only the rest).
"""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.dist import Distribution

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_native  # noqa: E402

try:  # setuptools >= 70.1 ships bdist_wheel itself
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # older setuptools: the wheel package provides it
    from wheel.bdist_wheel import bdist_wheel


class BuildPy(build_py):
    def run(self):
        try:
            build_native.build()
        except build_native.BuildError as e:
            sys.exit(f"error: {e}")
        super().run()


class BdistWheel(bdist_wheel):
    def get_tag(self):
        return ("py3", "none", build_native.wheel_platform_tag(super().get_tag()[2]))


class Sdist(sdist):
    def make_release_tree(self, base_dir, files):
        try:
            go_files = build_native.go_sources()
        except build_native.BuildError as e:
            sys.exit(f"error: {e}")
        super().make_release_tree(base_dir, sorted(set(files) | set(go_files)))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPy, "bdist_wheel": BdistWheel, "sdist": Sdist}, distclass=BinaryDistribution)
