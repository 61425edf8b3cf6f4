"""The baseline of `bench/ingest.py`: a bare Flask app whose `POST /webhooks/shopify` reads the
body and answers 200, served by gunicorn with the same settings as the real app.

    gunicorn --pythonpath bench "bare_app:create_app()"
"""

from __future__ import annotations

from flask import Flask, Response, request

OK = b'{"status":"ok"}'


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/shopify")
    def shopify() -> Response:
        request.get_data(cache=False)
        return Response(OK, status=200, mimetype="application/json")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(OK, status=200, mimetype="application/json")

    return app
