"""A tiny web app: / says hello with the version, /health answers for the HEALTHCHECK."""

import os

import bottle

app = bottle.Bottle()


@app.get("/")
def index() -> dict[str, str]:
    return {"app": "python-web", "version": os.environ.get("APP_VERSION", "dev")}


@app.get("/health")
def health() -> str:
    return "ok"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8000, quiet=True)  # noqa: S104 - inside the container
