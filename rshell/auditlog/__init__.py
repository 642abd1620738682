"""The audit log read back: its hash chain, ``rshellctl audit`` (one line per action) and ``audit verify``."""
