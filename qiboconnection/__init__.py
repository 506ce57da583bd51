"""Python client for Qilimanjaro's Quantum-as-a-Service, and a local server that speaks the same protocol."""

__version__ = "0.30.0"
