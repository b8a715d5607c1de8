"""Networks, configs, checkpoint loading and the model registry (torch only)."""
