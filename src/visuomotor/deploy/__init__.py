"""From a run to a robot: the env contract of a policy (``contract``), its export to ONNX and
TorchScript with verification (``export``), and rolling it out to watch (``play``)."""
