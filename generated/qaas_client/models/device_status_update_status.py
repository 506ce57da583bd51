from typing import Literal

DeviceStatusUpdateStatus = Literal["maintenance", "online"]

DEVICE_STATUS_UPDATE_STATUS_VALUES: set[DeviceStatusUpdateStatus] = {
    "maintenance",
    "online",
}


def check_device_status_update_status(value: str) -> DeviceStatusUpdateStatus:
    if value in DEVICE_STATUS_UPDATE_STATUS_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {DEVICE_STATUS_UPDATE_STATUS_VALUES!r}")
