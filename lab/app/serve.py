"""Serves the JupyterLab front end built from lab/app (tools/lab-build) with
Debian's jupyter_server 1.23 and jupyterlab_server 2.16, as JupyterLab's own
examples/federated/main.py does, with the fixes this pairing needs:

- jupyterlab_server 2.16's not-found handler writes `notFoundUrl` into the
  page config all requests share, so after one unknown /lab/... URL every
  page said "Path Not Found": its handler here works on a copy.
- 3.6's announcements plugin asks /lab/api/news and /lab/api/update, which
  only the `jupyterlab` Python package (absent) serves: small handlers give
  the offline answers (settings/overrides.json also turns both off).

Usage: /usr/bin/python3 serve.py --build-dir=BUILD/lab/app [jupyter server options]
where BUILD/lab/app holds static/ (the bundle) and data/ (schemas, themes).
Prebuilt extensions are found in the Jupyter data path's labextensions/
directories (e.g. share/jupyter/labextensions/NAME), as in any JupyterLab 3,
and in any --LtestLab.extra_labextensions_path=DIR.
"""
import json
import os
import sys

from jupyter_server.base.handlers import APIHandler
from jupyterlab_server import LabServerApp
from jupyterlab_server.handlers import LabHandler, NotFoundHandler
from tornado import web

HERE = os.path.dirname(os.path.abspath(__file__))


class CopyingNotFoundHandler(NotFoundHandler):
    """The fall-through page: "Path Not Found" for this request only."""

    def get_page_config(self):
        page_config = dict(LabHandler.get_page_config(self))  # not the shared dict
        page_config["notFoundUrl"] = self.request.path
        return page_config


class NewsHandler(APIHandler):
    @web.authenticated
    def get(self):
        self.finish(json.dumps({"news": []}))


class UpdateHandler(APIHandler):
    @web.authenticated
    def get(self):
        self.finish(json.dumps({"notification": None}))


def _build_dir():
    """--build-dir=DIR from the command line (removed from it), or $LTEST_LAB_BUILD_DIR."""
    for arg in list(sys.argv[1:]):
        if arg.startswith("--build-dir="):
            sys.argv.remove(arg)
            return os.path.abspath(arg.split("=", 1)[1])
    return os.path.abspath(os.environ.get("LTEST_LAB_BUILD_DIR", os.path.join(HERE, "..", "..", "build", "lab", "app")))


BUILD_DIR = _build_dir()


class LtestLab(LabServerApp):
    name = "lab"
    extension_url = "/lab"
    default_url = "/lab"
    load_other_extensions = False
    app_name = "JupyterLab"
    app_version = "3.6.8"
    app_settings_dir = os.path.join(HERE, "settings")
    schemas_dir = os.path.join(BUILD_DIR, "data", "schemas")
    themes_dir = os.path.join(BUILD_DIR, "data", "themes")
    static_dir = os.path.join(BUILD_DIR, "static")
    templates_dir = os.path.join(HERE, "templates")

    def initialize_handlers(self):
        super().initialize_handlers()
        self.handlers = [(url, CopyingNotFoundHandler if handler is NotFoundHandler else handler, *rest)
                         for url, handler, *rest in self.handlers]
        self.handlers[-1:-1] = [(r"/lab/api/news", NewsHandler), (r"/lab/api/update", UpdateHandler)]

    def initialize_settings(self):
        super().initialize_settings()
        self.serverapp.web_app.settings["terminals_available"] = False


def _jupyter_server_extension_points():
    return [{"module": __name__, "app": LtestLab}]


def main():
    if not os.path.isfile(os.path.join(LtestLab.static_dir, "bundle.js")):
        sys.exit(f"serve.py: no JupyterLab build in {BUILD_DIR} (run tools/lab-build)")
    LtestLab.launch_instance()


if __name__ == "__main__":
    main()
