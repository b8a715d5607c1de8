"""``omnifoa serve``: a resident local service that keeps models warm and runs generation jobs.

JSON over HTTP on 127.0.0.1 (uvicorn and Starlette: :mod:`.http_server`, :mod:`.api`),
versioned under ``/v1``; every request carries the token that the service writes, with its
address, to a user-only file (:mod:`.state_file`). With ``--listen`` it serves other machines
over TLS (:mod:`.listen`, :mod:`.tls`), each person with their own token (:mod:`.tokens`).
One worker runs the queued jobs in order (:mod:`.jobs`); an on-disk journal lets a restarted
service report jobs that a crash cut short as failed, with their partial files removed.
"""
