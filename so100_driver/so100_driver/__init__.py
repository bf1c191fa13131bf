"""SO-100/SO-101 arm driver: Feetech STS3215 bus over pyserial, arm model and calibration, hardware node, servo-bus emulator and simulated camera."""
