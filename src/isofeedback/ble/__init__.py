"""BLE transport pieces: private bus and a virtual BlueZ for bleak."""
