"""Whole projects: many shots in one run, resumable, one warm model per model id.

``shot_list`` reads the shots, ``plan`` checks every one before any work starts,
``shot_run`` makes one shot (computed into a folder, then committed all or nothing: the
interface a distributed runner builds on), ``runner`` runs them in order on this machine,
``ray_farm`` (with ``farm_worker``) on a Ray cluster, and ``report`` writes what happened.
"""
