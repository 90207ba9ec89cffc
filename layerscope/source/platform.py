"""Platforms (``os/arch[/variant]``): parsing, the host's, and matching.

Matching follows containerd's normalisation so ``linux/arm64`` finds a
manifest that says ``arm64/v8`` and ``x86_64`` means ``amd64``.
"""

from __future__ import annotations

import platform as _platform
import sys
from ..errors import UsageError
from ..record import FrozenRecord

_ARCH_ALIASES = {
    "x86_64": "amd64", "x86-64": "amd64", "amd64": "amd64",
    "aarch64": "arm64", "arm64": "arm64",
    "i386": "386", "i686": "386", "386": "386",
    "armhf": "arm", "armel": "arm", "arm": "arm", "armv7l": "arm", "armv6l": "arm",
    "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
}


class Platform(FrozenRecord):
    __slots__ = ("os", "architecture", "variant")

    os: str
    architecture: str
    variant: str

    def __init__(self, os: str, architecture: str, variant: str = "") -> None:
        object.__setattr__(self, "os", os)
        object.__setattr__(self, "architecture", architecture)
        object.__setattr__(self, "variant", variant)

    def __str__(self) -> str:
        parts = [self.os or "unknown", self.architecture or "unknown"]
        if self.variant:
            parts.append(self.variant)
        return "/".join(parts)

    def normalized(self) -> "Platform":
        arch = _ARCH_ALIASES.get(self.architecture.lower(), self.architecture.lower())
        variant = self.variant.lower()
        if arch == "arm64" and variant == "v8":
            variant = ""
        if arch == "amd64" and variant == "v1":
            variant = ""
        return Platform(self.os.lower(), arch, variant)

    def matches(self, wanted: "Platform") -> bool:
        """True if this (an image's) platform satisfies ``wanted``.

        A wanted platform without a variant accepts any variant, as
        ``docker pull --platform linux/arm`` does.
        """
        a, b = self.normalized(), wanted.normalized()
        if (a.os, a.architecture) != (b.os, b.architecture):
            return False
        return not b.variant or a.variant == b.variant


def parse_platform(text: str) -> Platform:
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"bad platform {text!r}: expected os/arch[/variant]")
    return Platform(*parts)


def host_platform() -> Platform:
    """The platform a pull on this machine would choose."""
    machine = _platform.machine().lower()
    arch = _ARCH_ALIASES.get(machine, machine)
    variant = ""
    if machine.startswith("armv7"):
        variant = "v7"
    elif machine.startswith("armv6"):
        variant = "v6"
    os_name = "linux" if sys.platform.startswith("linux") else sys.platform
    return Platform(os_name, arch, variant)


def from_json(obj: object) -> Platform | None:
    """A Platform from an OCI ``platform`` object or an image config."""
    if not isinstance(obj, dict):
        return None
    os_name = obj.get("os")
    arch = obj.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        return None
    variant = obj.get("variant")
    return Platform(os_name, arch, variant if isinstance(variant, str) else "")
