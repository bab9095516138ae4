"""`fileflow serve`: the run log in a browser, live while builds run, and as JSON under /api/.
Layer 4, beside the views: reads through fileflow.runlog.history, formats with fileflow.views.
Needs the `serve` extra (Starlette, uvicorn), imported only by `fileflow serve`."""
