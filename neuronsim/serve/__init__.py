"""``neuronsim serve``: a classroom web app in which every number comes from the reference.

One module per job: :mod:`.sessions` (one session per browser tab, bounded
and expiring), :mod:`.actions` (what a student does to a session's network),
:mod:`.charts` (the loss curve and decision boundary as SVG), :mod:`.page`
(the HTML the server renders), :mod:`.downloads` (files made in memory) and
:mod:`.app` (the routes; needs the ``neuronsim[serve]`` extra: Starlette and
uvicorn).  Importing this package imports none of them.
"""
