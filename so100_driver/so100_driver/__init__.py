"""SO-100/SO-101 arm driver: Feetech STS3215 bus over pyserial, arm model, hardware node, servo-bus
emulator, simulated task and camera."""
