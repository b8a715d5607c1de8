"""Generation: the request, the any-length pipeline (windows, frames, views, joins), loudness,
sidecars and the model registry. Talks to models only through ``models.family``."""
