"""The hwmon sensors of an amdgpu card: temperatures, power and its cap, fan, and whether it is an APU.

Documented in amdgpu_pm.c's "hwmon" DOC block (kernel Documentation/gpu/amdgpu/thermal.rst):
``temp[1-3]_input`` in millidegrees Celsius with ``temp[1-3]_label`` (``edge``, ``junction``,
``mem``; temp2/temp3 on SOC15 dGPUs only); ``power1_average``/``power1_input`` in microwatts,
"used by the SoC ... On APUs this includes the CPU"; ``power1_cap``, the selected cap in
microwatts; ``fan1_input`` in RPM; ``pwm1``, the fan level 0-255 (``pwm1_max`` 255); ``in1_input``,
the northbridge voltage, which hwmon_attributes_visible() shows on APUs only ("only APUs other
than gc 9,4,3 have vddnb": not on MI300A).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rshell.gpu.model import Temperature
from rshell.gpu.sysfs import AttributeReader, list_directory

_HWMON = re.compile(r"hwmon[0-9]+")
_TEMPERATURE_INPUT = re.compile(r"temp([0-9]+)_input")
PWM_MAX = 255


@dataclass(frozen=True)
class HwmonReading:
    present: bool = False
    temperatures: tuple[Temperature, ...] = ()
    power_uw: int | None = None
    power_cap_uw: int | None = None
    fan_rpm: int | None = None
    fan_percent: int | None = None
    #: the northbridge voltage is there, so the card is an APU; None without hwmon
    has_vddnb: bool | None = None


def read_hwmon(device: Path, card: str, problems: list[str]) -> HwmonReading:
    """The first hwmon directory of a card's PCI device; none (DPM off) is an empty reading."""
    directory = next(list_directory(device / "hwmon", _HWMON, f"{card}: hwmon", problems), None)
    if directory is None:
        return HwmonReading()
    reader = AttributeReader(directory, f"{card}: hwmon/{directory.name}", problems)
    return HwmonReading(
        present=True,
        temperatures=_temperatures(reader, problems),
        power_uw=_power(reader),
        power_cap_uw=reader.integer("power1_cap"),
        fan_rpm=reader.integer("fan1_input"),
        fan_percent=_fan_percent(reader),
        has_vddnb=(directory / "in1_input").exists(),
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


def _fan_percent(reader: AttributeReader) -> int | None:
    level = reader.integer("pwm1")
    if level is None:
        return None
    top = reader.integer("pwm1_max") or PWM_MAX
    return round(100 * min(level, top) / top)
