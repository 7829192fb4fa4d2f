"""The pure core: formats, crypto, hashing and policy. No I/O, no clock, no randomness."""
