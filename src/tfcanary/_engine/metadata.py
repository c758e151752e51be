"""What an environment is: Python, TensorFlow, Keras, NumPy, every package, devices, CPU.

Collected once per probe or timer run by the first worker (the ``meta`` event)
and stamped on its results; ``tf``, ``keras`` and ``np`` are the
environment's, handed in.
"""

from __future__ import annotations

import os
import platform
import re
from typing import Any, Dict, List

from tfcanary import fingerprint as _fp


def cpu() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pip_freeze() -> List[str]:
    """``name==version`` of every installed distribution, sorted; names as
    PEP 503 normalizes them (newer wheels write tensorflow_cpu, older tensorflow-cpu)."""
    import sysconfig
    from importlib import metadata as im

    # The environment's own site-packages, not sys.path: importing TensorFlow
    # puts setuptools' vendored packages (jaraco-*, autocommand) on sys.path, so
    # a freeze taken after some cases ran would list more than one taken before.
    site = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    return sorted({
        f"{re.sub(r'[-_.]+', '-', d.metadata['Name']).lower()}=={d.version}"
        for d in im.distributions(path=site) if d.metadata["Name"]})


def basic() -> Dict[str, Any]:
    """What is known of an environment without TensorFlow: Python, packages, CPU, platform."""
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "pip_freeze": pip_freeze(),
        "cpu": cpu(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "tf_use_legacy_keras": os.environ.get("TF_USE_LEGACY_KERAS"),
        "normalizer_version": _fp.NORMALIZER_VERSION,
    }


def collect(tf: Any, keras: Any, np: Any) -> Dict[str, Any]:
    """The environment's metadata, as results files record it (``metadata``)."""
    from importlib import metadata as im

    devices = []
    for d in tf.config.list_physical_devices():
        entry = {"name": d.name, "type": d.device_type}
        if d.device_type == "GPU":
            try:
                entry["description"] = tf.config.experimental.get_device_details(d).get("device_name")
            except Exception:  # details are best effort; the device itself is recorded
                pass
        devices.append(entry)
    keras_module = getattr(keras, "__name__", "") or ""
    keras_version = getattr(keras, "__version__", None)
    if not keras_version:  # tf.keras of TF <= 2.15 has no __version__
        dist = "tf-keras" if keras_module.startswith("tf_keras") else "keras"
        try:
            keras_version = im.version(dist)
        except im.PackageNotFoundError:
            keras_version = None
    return {**basic(), "tensorflow": tf.__version__, "keras": keras_version, "keras_module": keras_module,
            "numpy": np.__version__, "devices": devices}
