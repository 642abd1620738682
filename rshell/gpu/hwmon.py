"""The hwmon sensors of an amdgpu card: temperatures, power, and whether it is an APU.

Documented in the kernel's Documentation/gpu/amdgpu/thermal.rst ("HWMON Interfaces"):
``temp[1-3]_input`` in millidegrees Celsius with ``temp[1-3]_label``; ``power1_average`` and
``power1_input`` in microwatts; ``in1_input``, the northbridge voltage, exists on APUs only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rshell.gpu.model import Temperature
from rshell.gpu.sysfs import AttributeReader, list_directory

_HWMON = re.compile(r"hwmon[0-9]+")
_TEMPERATURE_INPUT = re.compile(r"temp([0-9]+)_input")


@dataclass(frozen=True)
class HwmonReading:
    temperatures: tuple[Temperature, ...] = ()
    power_uw: int | None = None
    integrated: bool | None = None


def read_hwmon(device: Path, card: str, problems: list[str]) -> HwmonReading:
    """The first hwmon directory of a card's PCI device; a card without one is reported."""
    directory = next(list_directory(device / "hwmon", _HWMON, f"{card}: hwmon", problems), None)
    if directory is None:
        problems.append(f"{card}: no hwmon sensors: temperature and power unknown")
        return HwmonReading()
    reader = AttributeReader(directory, f"{card}: hwmon/{directory.name}", problems)
    return HwmonReading(
        temperatures=_temperatures(reader, problems),
        power_uw=_power(reader),
        integrated=(directory / "in1_input").exists(),
    )


def _temperatures(reader: AttributeReader, problems: list[str]) -> tuple[Temperature, ...]:
    sensors: list[Temperature] = []
    for path in list_directory(reader.directory, _TEMPERATURE_INPUT, reader.label, problems):
        number = path.name.split("_", 1)[0].removeprefix("temp")
        value = reader.integer(path.name, signed=True)
        if value is not None:
            label = reader.text(f"temp{number}_label") or f"temp{number}"
            sensors.append(Temperature(label, value))
    return tuple(sensors)


def _power(reader: AttributeReader) -> int | None:
    average = reader.integer("power1_average")
    return average if average is not None else reader.integer("power1_input")
