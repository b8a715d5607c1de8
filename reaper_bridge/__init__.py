"""FOA stems onto REAPER's ambisonic tracks: a job file in a spool folder is the payload, an
OSC action trigger is the doorbell, and a Lua ingest script inside REAPER does the work.

``bridge_config`` (what the REAPER-side install wrote), ``job_file`` (stems → job JSON),
``doorbell`` (OSC trigger with retries, ack wait), ``drop`` (all of it), ``rpp_export`` (the
offline fallback: an .RPP project), and ``lua/`` (the scripts REAPER runs: install, ingest,
and the action that regenerates a time selection of an item by running ``omnifoa regenerate``,
found through ``bridge_config``'s ``omnifoa reaper link`` setting).
"""
