"""The OmniAudio family: dual-branch DiT with rectified flow on a spatial VAE's latent."""
