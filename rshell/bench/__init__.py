"""The ``bench`` verb's parts: policy settings, method, runner, metrics, report, history, lock, VRAM."""
